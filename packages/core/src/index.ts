/**
 * @autoresearch/core: the domain of an autonomous research loop, its four swappable
 * services (Proposer, Runner, Scorer, Ratchet), and the loop that composes them.
 */
export * from "./Budgets.ts"
export * from "./Config.ts"
export * from "./Edits.ts"
export * as Environment from "./Environment.ts"
export * from "./Events.ts"
export * from "./Experiment.ts"
export * from "./Journal.ts"
export * from "./JournalEntry.ts"
export * from "./KeepRule.ts"
export * from "./Noise.ts"
export * from "./Plan.ts"
export * from "./Proposal.ts"
export * from "./Proposer.ts"
export * from "./Python.ts"
export * from "./Ratchet.ts"
export * from "./Reported.ts"
export * from "./RunResult.ts"
export * from "./SafeRead.ts"
export * from "./Runner.ts"
export * from "./Score.ts"
export * from "./Scorer.ts"
export * from "./Seal.ts"
export * from "./Verification.ts"
export * from "./Workspace.ts"
/** Whether a process is alive (and still the one recorded), from /proc where there is one. */
export * as Process from "./Process.ts"
/** The loop: `Loop.run(config, paths)`. */
export * as Loop from "./Loop.ts"
/** The Ratchet over git worktrees. */
export * as GitRatchet from "./GitRatchet.ts"
/** Replays prepared candidates from folders. */
export * as ReplayProposer from "./ReplayProposer.ts"
/** Training a commit with one seed and scoring it, on validation and (for verify) test. */
export * as Trials from "./Trials.ts"
/** Rerunning the best and the baseline with fresh seeds, on validation and test. */
export * as Verify from "./Verify.ts"
/** Opening a research run: paths, checks, lock, services. */
export * as Research from "./Research.ts"
/** Carrying a research run's best kept experiment into another research directory. */
export * as Promote from "./Promote.ts"
