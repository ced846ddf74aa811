/**
 * @autoresearch/core: the domain of an autonomous research loop, its four swappable
 * services (Proposer, Runner, Scorer, Ratchet), and the loop that composes them.
 */
export * from "./Budgets.ts"
export * from "./Config.ts"
export * from "./Decision.ts"
export * from "./Edits.ts"
export * as Environment from "./Environment.ts"
export * from "./Events.ts"
export * from "./Experiment.ts"
export * from "./Flags.ts"
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
/** seal.json: the immutable files' seal at a run's first start, rebuilt after a power loss where safe. */
export * as SealFile from "./SealFile.ts"
/** Writes that survive a crash: appends flushed to disk, and files replaced whole (a reader never sees half). */
export * as SyncedFile from "./SyncedFile.ts"
export * from "./Verification.ts"
export * from "./Workspace.ts"
/** Whether a process is alive (and still the one recorded), from /proc where there is one. */
export * as Process from "./Process.ts"
/** Finding every process of a phase or a trusted command, to stop them all. */
export * as ProcessTree from "./ProcessTree.ts"
/** Processes a killed harness left behind: recorded before they start, killed by the next. */
export * as Orphans from "./Orphans.ts"
/** Running a short command and reading its output: the one helper for git, probes and checks. */
export * as Command from "./Command.ts"
/** Running a trusted command (a scorer's) as a supervised process tree. */
export * as TrustedCommand from "./TrustedCommand.ts"
/** What an experiment left in its run directory, checked before trusted code reads it. */
export * as RunDir from "./RunDir.ts"
/** The loop: `Loop.run(config, paths)`; `Loop.LoopError` with its union of reasons. */
export * as Loop from "./Loop.ts"
/** The Ratchet over git worktrees. */
export * as GitRatchet from "./GitRatchet.ts"
/** Replays prepared candidates from folders. */
export * as ReplayProposer from "./ReplayProposer.ts"
/** Training a commit with one seed and scoring it, on validation and (for verify) test. */
export * as Trials from "./Trials.ts"
/** Rerunning the best and the baseline with fresh seeds, on validation and test. */
export * as Verify from "./Verify.ts"
/** The run's lock: one process per tag, named by PID, start time and boot. */
export * as RunLock from "./RunLock.ts"
/** Git's lock files left by a killed git, and which of them are stale. */
export * as GitLocks from "./GitLocks.ts"
/** A tag's history in git against its journal; setting an earlier run aside (`--fresh`). */
export * as History from "./History.ts"
/** Opening a research run: paths, checks, lock, repairs, services; `Research.run`, the whole run in one call. */
export * as Research from "./Research.ts"
/** Progress lines for a run's events: `Progress.print` for `onEvent`, the live line for a terminal. */
export * as Progress from "./Progress.ts"
/** What a run is doing now, in `live.json`, for a reader in another process. */
export * as LiveStatus from "./LiveStatus.ts"
/** Running an effect from a plain script so that Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops it cleanly. */
export * as Signals from "./Signals.ts"
/** Carrying a research run's best kept experiment into another research directory. */
export * as Promote from "./Promote.ts"
