/**
 * What a Slurm job runs on its compute node: one phase of an experiment through
 * `LocalRunner`, so that the phase has the same guarantees there as on a workstation
 * (the bubblewrap sandbox with the hidden paths emptied, the environment's allowlist, the
 * time limit, the kill of the whole tree, the bounded log, the triage). `SlurmRunner`
 * writes the spec; this writes the phase's `RunResult` beside it, atomically, and the
 * runner reads it once Slurm says the job ended. A SIGTERM (Slurm's `scancel`, or the
 * end of the job's time) stops the phase the way Ctrl-C stops a local one.
 *
 *   node SlurmPhase.js <spec.json> <result.json>
 */
import { Runner, Signals } from "@autoresearch/core"
import type { PhaseRun } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as LocalRunner from "./LocalRunner.ts"

export interface PhaseSpec {
  readonly task: PhaseRun
  readonly local: LocalRunner.LocalRunnerOptions
}

const [specFile, resultFile] = process.argv.slice(2)
if (specFile === undefined || resultFile === undefined) {
  process.stderr.write("usage: node SlurmPhase.js <spec.json> <result.json>\n")
  process.exit(2)
}
const spec = JSON.parse(fs.readFileSync(specFile, "utf8")) as PhaseSpec
const result = await Signals.runPromise(Effect.gen(function*() {
  const runner = yield* Runner
  return yield* runner.run(spec.task)
}).pipe(Effect.provide(LocalRunner.layer(spec.local)))).catch((error: unknown) => {
  process.stderr.write(`autoresearch slurm phase: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
const temporary = `${resultFile}.${process.pid}.tmp`
fs.writeFileSync(temporary, JSON.stringify(result))
fs.renameSync(temporary, resultFile)
