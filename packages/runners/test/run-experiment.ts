/**
 * Runs one experiment (JSON in argv[2]) with the local runner in the sandbox, for the
 * test that SIGKILLs the process running the runner and looks for survivors.
 */
import { type Experiment, Runner } from "@autoresearch/core"
import { Effect } from "effect"
import * as LocalRunner from "../src/LocalRunner.ts"

const experiment = JSON.parse(process.argv[2]!) as Experiment
await Effect.runPromise(
  Effect.gen(function*() {
    const runner = yield* Runner
    return yield* runner.run(experiment)
  }).pipe(Effect.provide(LocalRunner.layer({ gpus: "none", sandbox: "required" })))
)
