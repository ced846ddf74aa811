/**
 * The Runner service: runs one phase of an experiment and says how it ended. A crash, a
 * timeout or an out-of-memory is a RunResult, not an error; RunnerError is for a runner
 * that could not do its job at all (no interpreter, no sandbox where one is required).
 * The contract in full is docs/runners.md; `RunnerContract` (in @autoresearch/runners)
 * checks a runner against it.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { PhaseRun } from "./Experiment.ts"
import type { RunResult } from "./RunResult.ts"

export class RunnerError extends Schema.TaggedError<RunnerError>()("RunnerError", {
  runner: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.runner}: ${this.reason}`
  }
}

export class Runner extends Context.Service<Runner, {
  readonly name: string
  readonly run: (phase: PhaseRun) => Effect.Effect<RunResult, RunnerError>
}>()("@autoresearch/core/Runner") {}
