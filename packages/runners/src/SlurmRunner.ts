/**
 * A runner for a cluster run by Slurm: each phase of an experiment is a batch job. The job
 * runs the phase through `LocalRunner` on its node (SlurmPhase.ts), inside the bubblewrap
 * sandbox there, so the guarantees are the local ones: hidden paths emptied, no secrets, a
 * time limit with the whole tree killed, a bounded log in the run directory (which must be
 * on a filesystem the nodes share). Slurm adds its own limits (`--time` is the phase's
 * limit plus a grace, `--mem`, `--gres`), and the runner follows the job to its end with
 * `scontrol` (many small clusters run without the accounting database, so `sacct` is not
 * needed), then triages from the job's final state:
 *
 * - `COMPLETED`: the phase's own result, as `LocalRunner` triaged it;
 * - `TIMEOUT`: `timeout`; `OUT_OF_MEMORY` (or `FAILED` with Slurm's "Exceeded job memory
 *   limit", where it enforces `--mem` without the cgroup plugin): `oom`;
 * - `CANCELLED`, `NODE_FAIL`, `PREEMPTED`, `BOOT_FAIL`: `killed`, resubmitted once first;
 * - `FAILED` and the rest: `crash` with the log's tail (a result file then is not trusted: an
 *   unsandboxed phase could have written it).
 *
 * The job carries no environment of the submitter's (`--export=NONE`): only `PATH` and the
 * locale are set in its script. Its name holds a key of the research run and the
 * experiment (`autoresearch-<key>-<id>-<phase>`), so an interrupted run cancels its job,
 * and a run resumed after a crash cancels the jobs the dead one left.
 */
import { Command, type Experiment, type Phase, type PhaseRun, readRegularFile, type RunResult, Runner, RunnerError } from "@autoresearch/core"
import { Effect, Layer, Semaphore } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { LocalRunnerOptions } from "./LocalRunner.ts"
import type { PhaseSpec } from "./SlurmPhase.ts"

export interface SlurmRunnerOptions {
  readonly partition?: string
  readonly account?: string
  /** Generic resources per job, e.g. `gpu:1`; none by default. */
  readonly gres?: string
  /** Memory per job in GB (`--mem`); Slurm's default when unset. */
  readonly memGb?: number
  readonly cpusPerTask?: number
  /** Seconds added to a phase's limit for Slurm's `--time` (default 120): the phase's own limit is enforced first, on the node. */
  readonly graceSeconds?: number
  /** Further `sbatch` arguments, e.g. `["--qos=short"]`. */
  readonly extraArgs?: ReadonlyArray<string>
  /** How often the job's state is read, in ms (default 1000). */
  readonly pollMs?: number
  /** How a phase runs on its node (sandbox, caps, threads): `LocalRunner`'s options; its GPU pool is the job's. */
  readonly local?: LocalRunnerOptions
  /** The Node.js executable on the compute nodes (default this one's path: the nodes must share it). */
  readonly node?: string
  /** Where Slurm's commands are, when not on PATH. */
  readonly bin?: string
}

/** A job's final state, as `scontrol show job` names it. */
export const finalStates = ["COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"] as const
const requeued = new Set(["CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL"])

/** `scontrol show job -o` output as fields. */
export const parseJob = (line: string): Record<string, string> =>
  Object.fromEntries(line.trim().split(/\s+/).flatMap((pair) => {
    const at = pair.indexOf("=")
    return at <= 0 ? [] : [[pair.slice(0, at), pair.slice(at + 1)]]
  }))

/** Slurm's `--time` for a phase limit: minutes:seconds, rounded up to the minute Slurm enforces. */
export const slurmTime = (seconds: number) => `${Math.max(1, Math.ceil(seconds / 60))}:00`

/** The key of a research run in its jobs' names: from its runs folder. */
export const runKey = (runDir: string) => createHash("sha256").update(path.dirname(path.resolve(runDir))).digest("hex").slice(0, 10)

export const jobName = (runDir: string, id: string, phase: string) => `autoresearch-${runKey(runDir)}-${id.replace(/[^A-Za-z0-9._-]/g, "_")}-${phase}`

/**
 * Where the runner keeps a phase's job files (`<phase>.json` the spec, `<phase>.sh` the batch
 * script, `<phase>.out` Slurm's output, `<phase>.result.json` the phase's result):
 * `<runs>/.slurm/<run>/`, beside the run directory. The phase may write its run directory
 * only, so it can neither rewrite the next phase's spec or script nor plant a link there
 * that the runner would write through, nor leave a result of its own.
 */
export const jobDir = (runDir: string) => path.join(path.dirname(runDir), ".slurm", path.basename(runDir))

/**
 * What Slurm's own output says when it killed a job over its `--mem` without the cgroup
 * plugin (`JobAcctGatherParams=OverMemoryKill`): the job then ends `FAILED`, not `OUT_OF_MEMORY`.
 */
const memoryKilled = /slurmstepd[^\n]*: error: Exceeded (job|step) memory limit/

/**
 * What a job's final state means for the phase, given the phase's own result when it wrote
 * one, and Slurm's output for the job (its `--output` file, the runner's, not the phase's).
 */
export const triage = (
  state: string,
  phase: Pick<Phase, "name" | "timeoutSeconds">,
  own: RunResult | undefined,
  logTail: string,
  runDir: string,
  logPath: string,
  slurmOutput = ""
): RunResult => {
  // Only a job that completed ran SlurmPhase to its end and wrote the result; after any other end
  // a result file is not trusted (an unsandboxed phase can write the runner's job folder).
  if (state === "COMPLETED" && own !== undefined) return own
  const base = { runDir, logTail, phases: [{ name: phase.name, exitCode: null, signal: null, seconds: 0, logPath, timedOut: state === "TIMEOUT" }] }
  const overMemory = state === "COMPLETED" ? null : memoryKilled.exec(slurmOutput)
  if (overMemory !== null) {
    return { ...base, status: "oom", reason: `Slurm ended ${phase.name}'s job over its memory limit (${state}: ${overMemory[0].replace(/^.*error: /, "")})` }
  }
  switch (state) {
    case "TIMEOUT":
    case "DEADLINE":
      return { ...base, status: "timeout", reason: `Slurm ended ${phase.name}'s job at its time limit (${state})` }
    case "OUT_OF_MEMORY":
      return { ...base, status: "oom", reason: `Slurm ended ${phase.name}'s job: out of memory (OUT_OF_MEMORY)` }
    case "CANCELLED":
    case "NODE_FAIL":
    case "PREEMPTED":
    case "BOOT_FAIL":
      return { ...base, status: "killed", reason: `${phase.name}'s job ended ${state}` }
    default:
      return { ...base, status: "crash", reason: `${phase.name}'s job ended ${state} without a result${logTail ? `: ${logTail.trim().split("\n").at(-1)}` : ""}` }
  }
}

const phaseEntry = () => {
  const here = import.meta.url
  return fileURLToPath(new URL(here.endsWith(".ts") ? "./SlurmPhase.ts" : "./SlurmPhase.js", here))
}

export const make = Effect.fnUntraced(function*(options: SlurmRunnerOptions = {}) {
  const bin = (name: string) => (options.bin === undefined ? name : path.join(options.bin, name))
  const slurm = (name: string, args: ReadonlyArray<string>) =>
    Command.run(bin(name), args, { timeoutMs: 60_000 }).pipe(
      Effect.mapError((error) => new RunnerError({ runner: "slurm", reason: `${name} could not run: ${error.message}` }))
    )
  const cleaned = new Set<string>()
  // Parallel workers call the runner at once: the others wait until the first has cancelled what a killed run left, never cancelling their jobs.
  const cleaning = yield* Semaphore.make(1)

  /** Cancels the jobs a killed run left for this research run (the lock says there is no other live one). */
  const cancelLeftovers = (runDir: string) =>
    cleaning.withPermits(1)(Effect.gen(function*() {
      const key = runKey(runDir)
      if (cleaned.has(key)) return
      cleaned.add(key)
      const listed = yield* slurm("squeue", ["-h", "--me", "-o", "%i %j"]).pipe(Effect.option)
      if (listed._tag === "None" || !Command.succeeded(listed.value)) return
      const left = listed.value.stdout.split("\n").map((line) => line.trim().split(/\s+/)).filter(([, name]) => name?.startsWith(`autoresearch-${key}-`))
      for (const [id] of left) yield* slurm("scancel", [id!]).pipe(Effect.ignore)
    }))

  const state = (job: string) =>
    slurm("scontrol", ["show", "job", "-o", job]).pipe(Effect.map((output) => (Command.succeeded(output) ? parseJob(output.stdout).JobState ?? "" : "")))

  const cancel = (job: string) =>
    Effect.gen(function*() {
      yield* slurm("scancel", [job]).pipe(Effect.ignore)
      // Not done until the job is: its phase's processes must be gone before the runner returns.
      for (let waited = 0; waited < 120_000; waited += 500) {
        const now = yield* state(job).pipe(Effect.orElseSucceed(() => ""))
        if (now === "" || (finalStates as ReadonlyArray<string>).includes(now)) return
        yield* Effect.sleep(500)
      }
    })

  const submitOnce = (experiment: Experiment, phase: Phase, attempt: number) =>
    Effect.gen(function*() {
      const runDir = path.resolve(experiment.runDir)
      const base = path.join(jobDir(runDir), phase.name)
      const specFile = `${base}.json`
      const resultFile = `${base}.result.json`
      const logPath = path.join(runDir, `${phase.name}.log`)
      // What an earlier job of this phase left would be read as this one's: its result, its Slurm output.
      for (const stale of [resultFile, `${base}.out`]) fs.rmSync(stale, { force: true })
      const spec: PhaseSpec = { task: { ...experiment, runDir, phase }, local: { gpus: "auto", ...options.local } }
      fs.writeFileSync(specFile, JSON.stringify(spec))
      const script = [
        "#!/bin/sh",
        `export PATH=${shellQuote(process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin")}`,
        "export LANG=C.UTF-8",
        `exec ${shellQuote(options.node ?? process.execPath)} ${shellQuote(phaseEntry())} ${shellQuote(specFile)} ${shellQuote(resultFile)}`
      ].join("\n") + "\n"
      fs.writeFileSync(`${base}.sh`, script, { mode: 0o755 })
      const args = [
        "--parsable",
        `--job-name=${jobName(runDir, experiment.id, phase.name)}`,
        `--comment=autoresearch ${experiment.id} ${phase.name}${attempt > 0 ? ` retry ${attempt}` : ""}`,
        `--time=${slurmTime(phase.timeoutSeconds + (options.graceSeconds ?? 120))}`,
        "--export=NONE",
        `--output=${base}.out`,
        `--chdir=${experiment.workdir}`,
        "--nodes=1",
        "--ntasks=1",
        ...(options.partition === undefined ? [] : [`--partition=${options.partition}`]),
        ...(options.account === undefined ? [] : [`--account=${options.account}`]),
        ...(options.gres === undefined ? [] : [`--gres=${options.gres}`]),
        ...(options.memGb === undefined ? [] : [`--mem=${Math.ceil(options.memGb * 1024)}M`]),
        ...(options.cpusPerTask === undefined ? [] : [`--cpus-per-task=${options.cpusPerTask}`]),
        ...(options.extraArgs ?? []),
        `${base}.sh`
      ]
      const submitted = yield* slurm("sbatch", args)
      if (!Command.succeeded(submitted)) {
        return yield* new RunnerError({ runner: "slurm", reason: `sbatch refused ${phase.name}: ${submitted.stderr.trim() || submitted.stdout.trim()}` })
      }
      const job = submitted.stdout.trim().split(";")[0]!
      const started = Date.now()
      const final = yield* Effect.gen(function*() {
        for (;;) {
          const now = yield* state(job)
          if ((finalStates as ReadonlyArray<string>).includes(now)) return now
          if (now === "") return "UNKNOWN"
          yield* Effect.sleep(options.pollMs ?? 1000)
        }
      }).pipe(Effect.onInterrupt(() => cancel(job)))
      const own = readResult(resultFile)
      const slurmOutput = readTail(`${base}.out`)
      const tail = readTail(logPath) || slurmOutput
      const result = triage(final, phase, own, tail, runDir, logPath, slurmOutput)
      if (own === undefined && result.phases[0] !== undefined) {
        return { final, result: { ...result, phases: [{ ...result.phases[0], seconds: (Date.now() - started) / 1000 }] } }
      }
      return { final, result }
    })

  const run = Effect.fnUntraced(function*(task: PhaseRun) {
    const { phase, ...experiment } = task
    fs.mkdirSync(experiment.runDir, { recursive: true })
    // The job's own files are the runner's: beside the run directory, never in it.
    fs.mkdirSync(jobDir(path.resolve(experiment.runDir)), { recursive: true, mode: 0o700 })
    yield* cancelLeftovers(experiment.runDir)
    const first = yield* submitOnce(experiment, phase, 0)
    return requeued.has(first.final) ? (yield* submitOnce(experiment, phase, 1)).result : first.result
  })

  return Runner.of({ name: "slurm", run })
})

export const layer = (options: SlurmRunnerOptions = {}) => Layer.effect(Runner, make(options))

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

const readResult = (file: string): RunResult | undefined => {
  const read = readRegularFile(file, 1 << 20)
  if (read._tag !== "Text") return undefined
  try {
    return JSON.parse(read.text) as RunResult
  } catch {
    return undefined
  }
}

/** The end of a log the phase could have replaced (by a FIFO, a link): read without following or blocking. */
const readTail = (file: string) => {
  const read = readRegularFile(file, 2000, { fromEnd: true })
  return read._tag === "Text" ? read.text : ""
}
