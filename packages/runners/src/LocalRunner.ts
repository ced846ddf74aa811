/**
 * The Runner over local subprocesses. Each phase runs the experiment's command in its
 * working directory, sandboxed with bubblewrap where the platform allows, with an
 * allowlisted environment, a GPU lease from the pool, a bounded log in the run
 * directory and a wall-clock limit enforced from outside; then triage says how it ended.
 * Interrupting the Effect stops every process the phase started before it returns.
 */
import { Effect, Layer } from "effect"
import { parseReported, Runner, RunnerError, type Experiment, type Phase, type RunResult } from "@autoresearch/core"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BoundedLog, type BoundedLogOptions } from "./BoundedLog.ts"
import * as GpuPool from "./GpuPool.ts"
import { peakVramGb, readMetrics } from "./MetricsFile.ts"
import { phaseEnv, runnerVariables } from "./PhaseEnv.ts"
import { type PhaseExit, PhaseProcess, resolveExecutable } from "./PhaseProcess.ts"
import * as Sandbox from "./Sandbox.ts"
import { triage } from "./Triage.ts"

export interface LocalRunnerOptions {
  /** `auto` (default): bubblewrap where it works, else unsandboxed with a warning; `required`; `off`. */
  readonly sandbox?: Sandbox.SandboxMode
  /** The bubblewrap executable (default `bwrap` on PATH). */
  readonly bwrap?: string
  /** Seconds between SIGTERM and SIGKILL when a phase is stopped (default 2). */
  readonly killGraceSeconds?: number
  /** Parent variables passed through besides the allowlist; credentials are refused whatever their names. */
  readonly passEnv?: ReadonlyArray<string>
  /** How much of each phase's output its log keeps. */
  readonly log?: BoundedLogOptions
  /** Files each phase must leave in the run directory, non-empty, by phase name, e.g. `{ predict: ["predictions.npy"] }`. */
  readonly artifacts?: Readonly<Record<string, ReadonlyArray<string>>>
  /** Which GPUs the pool holds (default `auto`: what nvidia-smi lists). */
  readonly gpus?: GpuPool.GpuPoolOptions["gpus"]
  /** GPUs each phase leases (default 1 where the pool has any). */
  readonly gpusPerPhase?: number
  /**
   * GPU memory (GB, 10^9 bytes, as torch reports it) each phase may use: passed as `AUTORESEARCH_VRAM_GB` for the
   * phase to cap itself (`torch.cuda.set_per_process_memory_fraction`), and checked against the peak it reports.
   */
  readonly vramBudgetGb?: number
  /** Further paths no phase may see (added to the experiment's hidden paths and the user's credential files). */
  readonly hide?: ReadonlyArray<string>
}

/** Where the user's credentials usually live, relative to their home; hidden from sandboxed phases. */
const credentialPaths = [
  ".ssh",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".gnupg",
  ".netrc",
  ".git-credentials",
  ".pypirc",
  ".npmrc",
  ".config/gcloud",
  ".config/gh",
  ".config/hub",
  ".cache/huggingface/token",
  ".huggingface"
]

/** The variable whose value marks every process of a phase, so that no orphan escapes the final sweep. */
const markerVariable = "AUTORESEARCH_RUN_ID"

const realpath = (target: string) => {
  try {
    return fs.realpathSync(target)
  } catch {
    return undefined
  }
}

const hiddenEntries = (targets: ReadonlyArray<string>) =>
  [...new Set(targets.map((target) => realpath(target)).filter((target) => target !== undefined))].map((target) => ({
    path: target,
    kind: fs.statSync(target).isDirectory() ? "directory" as const : "file" as const
  }))

/** NVIDIA's device nodes (`/dev/nvidia0`, `/dev/nvidiactl`, `/dev/nvidia-uvm`, ...). */
const gpuDeviceNodes = () => {
  try {
    return fs.readdirSync("/dev").filter((name) => name.startsWith("nvidia")).map((name) => path.join("/dev", name))
  } catch {
    return []
  }
}

const unsandboxedWarning = (reason: string) =>
  `UNSANDBOXED: ${reason}. This phase ran with network access, could read the held-out targets and the ` +
  `repository, and could write outside its run directory; install bubblewrap (apt-get install bubblewrap) ` +
  `or set sandbox: "required" to refuse such runs`

/** What the sandbox mounts for a phase, from the paths as they are on disk now. */
const sandboxSpec = (
  experiment: Experiment,
  phase: Phase,
  runDir: string,
  hide: ReadonlyArray<string>,
  withGpus: boolean
): Sandbox.SandboxSpec => ({
  workdir: realpath(experiment.workdir) ?? path.resolve(experiment.workdir),
  runDir: realpath(runDir) ?? runDir,
  readable: phase.readable.map((target) => realpath(target) ?? path.resolve(target)),
  writable: phase.writable.map((target) => realpath(target) ?? path.resolve(target)),
  hidden: hiddenEntries([
    ...experiment.hidden,
    ...hide,
    // a worktree's .git file points into the repository's .git, which is hidden anyway
    path.join(experiment.workdir, ".git"),
    ...credentialPaths.map((file) => path.join(os.homedir(), file))
  ]),
  devices: withGpus ? gpuDeviceNodes() : []
})

/** Expected artifacts that are missing or empty in the run directory. */
const artifactProblems = (runDir: string, files: ReadonlyArray<string>) => {
  const sizes = files.map((file) => {
    try {
      return { file, size: fs.statSync(path.join(runDir, file)).size }
    } catch {
      return { file, size: undefined }
    }
  })
  return {
    missing: sizes.filter((entry) => entry.size === undefined).map((entry) => entry.file),
    empty: sizes.filter((entry) => entry.size === 0).map((entry) => entry.file)
  }
}

/** Runs a started phase to its end; interrupting stops its whole process tree first, and it is always cleaned up. */
const supervise = (start: () => PhaseProcess) =>
  Effect.acquireUseRelease(
    Effect.sync(start),
    (running) =>
      Effect.callback<PhaseExit>((resume) => {
        void running.exited.then((exit) => resume(Effect.succeed(exit)))
        return Effect.promise(() => running.stop("interrupted"))
      }),
    (running) => Effect.promise(() => running.finish())
  )

/** The Runner; needs a GpuPool (see `layer` for one that brings its own). */
export const make = Effect.fnUntraced(function*(options: LocalRunnerOptions = {}) {
  const pool = yield* GpuPool.GpuPool
  const mode = options.sandbox ?? "auto"
  const probe = mode === "off" ? undefined : yield* Sandbox.probe(options.bwrap)
  const bwrap = probe?.available === true ? probe.bwrap : undefined
  const withoutSandbox = probe === undefined
    ? "the sandbox is off (sandbox: \"off\")"
    : probe.available
    ? undefined
    : probe.reason

  const runPhase = Effect.fnUntraced(function*(experiment: Experiment, phase: Phase) {
    const warnings: Array<string> = []
    const lease = yield* pool.lease(pool.gpus.length > 0 ? options.gpusPerPhase ?? 1 : 0)
    const runDir = path.resolve(experiment.runDir)
    const privateDir = path.join(runDir, ".private", phase.name)
    for (const dir of ["home", "tmp"]) fs.mkdirSync(path.join(privateDir, dir), { recursive: true })
    const marker = `${experiment.id}-${phase.name}-${crypto.randomUUID()}`
    const built = phaseEnv({
      parent: process.env,
      ...(options.passEnv === undefined ? {} : { passEnv: options.passEnv }),
      runner: runnerVariables({
        runDir,
        phase: phase.name,
        seed: experiment.seed,
        timeoutSeconds: phase.timeoutSeconds,
        home: path.join(privateDir, "home"),
        tmp: bwrap === undefined ? path.join(privateDir, "tmp") : "/tmp",
        sandboxed: bwrap !== undefined,
        gpus: lease.gpus.map((gpu) => gpu.index),
        hideGpus: options.gpus === "none",
        vramBudgetGb: options.vramBudgetGb,
        marker: [markerVariable, marker]
      }),
      phase: phase.env
    })
    if (built.refused.length > 0) {
      warnings.push(`refused to pass ${built.refused.join(", ")} to ${phase.name}: they look like credentials`)
    }

    const [command, ...args] = phase.command
    const executable = command === undefined ? undefined : resolveExecutable(command, built.env.PATH ?? "", experiment.workdir)
    if (executable === undefined) {
      return yield* new RunnerError({
        runner: "local",
        reason: `${phase.name}: command not found: ${command ?? "(empty command)"} (PATH=${built.env.PATH ?? ""})`
      })
    }
    const argv = bwrap === undefined
      ? [executable, ...args]
      : [
        bwrap,
        ...Sandbox.bwrapArgs(sandboxSpec(experiment, phase, runDir, options.hide ?? [], lease.gpus.length > 0), { infoFd: 3 }),
        executable,
        ...args
      ]
    if (withoutSandbox !== undefined) warnings.push(unsandboxedWarning(withoutSandbox))

    const log = new BoundedLog(path.join(runDir, `${phase.name}.log`), options.log)
    const exit = yield* supervise(() =>
      PhaseProcess.start({
        argv,
        cwd: experiment.workdir,
        env: built.env,
        sandboxed: bwrap !== undefined,
        marker: { variable: markerVariable, value: marker },
        timeoutSeconds: phase.timeoutSeconds,
        killGraceSeconds: options.killGraceSeconds ?? 2,
        log
      })
    )
    fs.rmSync(privateDir, { recursive: true, force: true })
    if (exit.spawnError !== undefined) {
      return yield* new RunnerError({ runner: "local", reason: `${phase.name}: could not start ${argv[0]}: ${exit.spawnError}` })
    }

    const logTail = log.lastLines(40)
    const reported = { ...parseReported(log.lastLines(200)), ...readMetrics(path.join(runDir, "metrics.json")) }
    const verdict = triage({
      phase: phase.name,
      exitCode: exit.exitCode,
      signal: exit.signal,
      timedOut: exit.timedOut,
      interrupted: exit.interrupted,
      timeoutSeconds: phase.timeoutSeconds,
      logTail,
      signalAsExitCode: bwrap !== undefined,
      artifacts: artifactProblems(runDir, options.artifacts?.[phase.name] ?? []),
      reported
    })
    const peak = peakVramGb(reported)
    if (peak !== undefined && options.vramBudgetGb !== undefined && peak > options.vramBudgetGb) {
      warnings.push(`${phase.name} used ${peak.toFixed(1)} GB of GPU memory, over its ${options.vramBudgetGb} GB budget`)
    }
    return {
      status: verdict.status,
      ...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
      phases: [{
        name: phase.name,
        exitCode: exit.exitCode,
        signal: exit.signal,
        seconds: exit.seconds,
        logPath: log.path,
        timedOut: exit.timedOut
      }],
      runDir,
      ...(peak === undefined ? {} : { peakMemoryGb: peak }),
      logTail,
      ...(warnings.length === 0 ? {} : { warnings })
    } satisfies RunResult
  }, Effect.scoped)

  const run = Effect.fnUntraced(function*(experiment: Experiment) {
    if (mode === "required" && bwrap === undefined) {
      return yield* new RunnerError({
        runner: "local",
        reason: `sandbox: "required" but ${withoutSandbox}; install bubblewrap (apt-get install bubblewrap) or set sandbox: "auto"`
      })
    }
    if (experiment.phases.length === 0) return yield* new RunnerError({ runner: "local", reason: "experiment has no phases" })
    fs.mkdirSync(experiment.runDir, { recursive: true })
    const results: Array<RunResult> = []
    for (const phase of experiment.phases) {
      const result = yield* runPhase(experiment, phase)
      results.push(result)
      if (result.status !== "ok") break
    }
    const last = results.at(-1)!
    const peaks = results.flatMap((result) => (result.peakMemoryGb === undefined ? [] : [result.peakMemoryGb]))
    const warnings = [...new Set(results.flatMap((result) => result.warnings ?? []))]
    return {
      ...last,
      phases: results.flatMap((result) => result.phases),
      ...(peaks.length === 0 ? {} : { peakMemoryGb: Math.max(...peaks) }),
      ...(warnings.length === 0 ? {} : { warnings })
    } satisfies RunResult
  })

  return Runner.of({ name: "local", run })
})

/** The local runner with a GPU pool of its own (`options.gpus`). */
export const layer = (options: LocalRunnerOptions = {}) =>
  Layer.effect(Runner, make(options)).pipe(
    Layer.provide(GpuPool.layer(options.gpus === undefined ? {} : { gpus: options.gpus }))
  )

/** The local runner over a GpuPool the caller provides (to share one pool between runners). */
export const layerWithPool = (options: LocalRunnerOptions = {}) => Layer.effect(Runner, make(options))
