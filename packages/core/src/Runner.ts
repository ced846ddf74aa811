/**
 * The Runner service: runs an experiment's phases and says how it ended. A crash, a
 * timeout or an out-of-memory is a RunResult, not an error; RunnerError is for a runner
 * that could not do its job at all (no interpreter, no sandbox where one is required).
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { Experiment } from "./Experiment.ts"
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
  readonly run: (experiment: Experiment) => Effect.Effect<RunResult, RunnerError>
}>()("@autoresearch/core/Runner") {}
