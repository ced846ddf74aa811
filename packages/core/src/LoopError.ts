/**
 * Why a research run stopped short, as a union of reasons a caller can branch on
 * (`error.reason._tag`), each with what happened in its fields; the message is made
 * from them in one exhaustive place, so a new reason is caught at compile time.
 */
import { Schema } from "effect"

export const LoopErrorReason = Schema.Union([
  /** Experiment 0 failed (or a resumed run's did): nothing can be compared with it. */
  Schema.TaggedStruct("BaselineFailed", { what: Schema.String, train: Schema.Array(Schema.String) }),
  /** The trusted prepare phase did not build the data cache. */
  Schema.TaggedStruct("PrepareFailed", { why: Schema.String, log: Schema.optional(Schema.String), logTail: Schema.String }),
  /** The data cache's fingerprint is not the one the journal recorded. */
  Schema.TaggedStruct("CacheChanged", { recorded: Schema.String, current: Schema.String }),
  /** A cache rebuilt after an experiment touched it came out different. */
  Schema.TaggedStruct("CacheRebuiltDifferently", { fingerprint: Schema.String }),
  /** Fewer than two noise runs scored. */
  Schema.TaggedStruct("NoiseFailed", { runs: Schema.Number, failed: Schema.Array(Schema.String) }),
  /** A count below what the command needs: noise runs (2 or more) or verify seeds (1 or more). */
  Schema.TaggedStruct("TooFew", { what: Schema.Literals(["noise runs", "verify seeds"]), given: Schema.Number }),
  /** Parallel workers were asked for, but the loop was given no repository to make their worktrees in. */
  Schema.TaggedStruct("WorkersNeedRepository", { workers: Schema.Number }),
  /** `verify` found no commit to verify. */
  Schema.TaggedStruct("NothingToVerify", {
    why: Schema.Literals(["no kept baseline", "no kept experiment", "no such commit"]),
    commit: Schema.optional(Schema.String)
  })
])
export type LoopErrorReason = typeof LoopErrorReason.Type

export const describe = (reason: LoopErrorReason): string => {
  switch (reason._tag) {
    case "BaselineFailed":
      return `the baseline (experiment 0) ${reason.what}. Fix ${reason.train.join(" ")}, commit, and start a new run with another --tag`
    case "PrepareFailed":
      return `prepare failed (${reason.why}); log: ${reason.log}\n${reason.logTail}`
    case "CacheChanged":
      return `the data cache changed since this research run began (${reason.recorded} -> ${reason.current}); start a new tag`
    case "CacheRebuiltDifferently":
      return `rebuilding the data cache gave another fingerprint (${reason.fingerprint})`
    case "NoiseFailed":
      return `the noise floor needs two runs that score; ${reason.failed.length} of ${reason.runs} failed (${reason.failed.join("; ")})`
    case "TooFew":
      return reason.what === "noise runs"
        ? `the noise floor needs 2 runs or more, not ${reason.given}`
        : `verify needs 1 seed or more, not ${reason.given}`
    case "WorkersNeedRepository":
      return `${reason.workers} workers need worktrees of the research repository: pass Loop.run the paths Research.paths makes (repoRoot, relative, worktree, branch)`
    case "NothingToVerify":
      switch (reason.why) {
        case "no kept baseline":
          return "nothing to verify: this research run has no kept baseline yet"
        case "no kept experiment":
          return "nothing to verify: no kept experiment"
        case "no such commit":
          return `no kept experiment has a commit starting with '${reason.commit}' (or more than one has)`
      }
  }
}

export class LoopError extends Schema.TaggedError<LoopError>()("LoopError", {
  reason: LoopErrorReason
}) {
  override get message() {
    return describe(this.reason)
  }
}
