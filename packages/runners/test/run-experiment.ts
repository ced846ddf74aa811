/**
 * Runs one experiment (JSON in argv[2]) with the local runner, sandboxed unless argv[3]
 * (JSON) gives other options, and prints the result as JSON: for the tests that SIGKILL
 * the process running the runner, or that must not hang with it.
 */
import { Runner } from "@autoresearch/core"
import { Effect } from "effect"
import * as LocalRunner from "../src/LocalRunner.ts"
import { runStaged, type Staged } from "./fixtures.ts"

const experiment = JSON.parse(process.argv[2]!) as Staged
const options = JSON.parse(process.argv[3] ?? "{}") as LocalRunner.LocalRunnerOptions
const result = await Effect.runPromise(
  Effect.gen(function*() {
    const runner = yield* Runner
    return yield* runStaged(runner, experiment)
  }).pipe(Effect.provide(LocalRunner.layer({ gpus: "none", sandbox: "required", ...options })))
)
process.stdout.write(JSON.stringify(result))
