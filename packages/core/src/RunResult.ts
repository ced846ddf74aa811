/**
 * What a runner hands back for one experiment: how it ended, and per phase the exit,
 * the duration and where the log is. The runner says what happened; it never scores.
 */
import { Schema } from "effect"
import { PhaseName } from "./Experiment.ts"
import { Flag } from "./Flags.ts"

export const RunStatus = Schema.Literals(["ok", "crash", "timeout", "oom", "killed"])
export type RunStatus = typeof RunStatus.Type

export const PhaseResult = Schema.Struct({
  name: PhaseName,
  exitCode: Schema.NullOr(Schema.Number),
  signal: Schema.NullOr(Schema.String),
  seconds: Schema.Number,
  logPath: Schema.String,
  timedOut: Schema.Boolean
})
export type PhaseResult = typeof PhaseResult.Type

export const RunResult = Schema.Struct({
  status: RunStatus,
  /** One line saying why, when the status is not `ok`. */
  reason: Schema.optional(Schema.String),
  phases: Schema.Array(PhaseResult),
  runDir: Schema.String,
  peakMemoryGb: Schema.optional(Schema.Number),
  /** The last lines of the log of the phase that ended the run. */
  logTail: Schema.String,
  warnings: Schema.optional(Schema.Array(Schema.String)),
  /** Flags for the journal, e.g. `vram-exceeded` or `disk-full`: which cap ended the run. */
  flags: Schema.optional(Schema.Array(Flag))
})
export type RunResult = typeof RunResult.Type

/**
 * The result of phases run one after another, from their results in order (at least
 * one): the last one's status, reason and log tail, every phase, the highest peak memory
 * and each warning and flag once.
 */
export const combineRunResults = (results: ReadonlyArray<RunResult>): RunResult => {
  const last = results.at(-1)!
  const peaks = results.flatMap((result) => (result.peakMemoryGb === undefined ? [] : [result.peakMemoryGb]))
  const warnings = [...new Set(results.flatMap((result) => result.warnings ?? []))]
  const flags = [...new Set(results.flatMap((result) => result.flags ?? []))]
  return {
    ...last,
    phases: results.flatMap((result) => result.phases),
    ...(peaks.length === 0 ? {} : { peakMemoryGb: Math.max(...peaks) }),
    ...(warnings.length === 0 ? {} : { warnings }),
    ...(flags.length === 0 ? {} : { flags })
  }
}
