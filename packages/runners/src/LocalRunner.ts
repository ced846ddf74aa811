/**
 * The Runner over local subprocesses. Each phase runs the experiment's command in its
 * working directory, sandboxed with bubblewrap where the platform allows, with an
 * allowlisted environment, a fresh home and temporary directory, a GPU lease from the
 * pool, a bounded log in the run directory, a wall-clock limit enforced from outside, and
 * hard caps on its memory, processes, run directory and GPU memory; then triage says how
 * it ended. Interrupting the Effect stops every process the phase started before it
 * returns, and a runner that was killed has its phases killed by the next.
 */
import { Effect, Layer } from "effect"
import { Orphans, parseReported, Runner, RunnerError, type Experiment, type Phase, type PhaseRun, type RunResult } from "@autoresearch/core"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { BoundedLog, type BoundedLogOptions, tailLines } from "./BoundedLog.ts"
import { resolveCaps } from "./Caps.ts"
import * as GpuPool from "./GpuPool.ts"
import * as Homes from "./Homes.ts"
import { peakVramGb, readMetrics } from "./MetricsFile.ts"
import * as PhaseLimits from "./PhaseLimits.ts"
import { phaseEnv, runnerVariables } from "./PhaseEnv.ts"
import { type PhaseExit, PhaseProcess, resolveExecutable } from "./PhaseProcess.ts"
import { kindOf, lstat } from "@autoresearch/core"
import * as Sandbox from "./Sandbox.ts"
import { type CapStop, triage } from "./Triage.ts"
import { watchPhase } from "./Watch.ts"

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
   * GPU memory (GB, 10^9 bytes, as torch reports it) each phase may use per GPU: passed as `AUTORESEARCH_VRAM_GB`
   * for the phase to cap itself (`torch.cuda.set_per_process_memory_fraction`), measured with nvidia-smi while it
   * runs (the phase is killed past it, with 1 GB allowed for the CUDA context), and checked against the peak it reports.
   */
  readonly vramBudgetGb?: number
  /** The nvidia-smi that finds the GPUs and measures each phase's GPU memory (default `nvidia-smi` on PATH; `false`: none). */
  readonly nvidiaSmi?: string | false
  /**
   * Host memory (GB) each phase may use, its whole process tree together (default three quarters of the
   * host's RAM). A cgroup enforces it where one can be made; otherwise it is a per-process address-space rlimit.
   */
  readonly memoryGb?: number
  /** Processes and threads each phase may have at once (default 4096). */
  readonly maxProcesses?: number
  /** Size (GB) the run directory may reach while a phase runs; the phase is killed past it (default 20). */
  readonly runDirGb?: number
  /**
   * CPU threads each phase may use: set as `AUTORESEARCH_THREADS`, `OMP_NUM_THREADS` and
   * `MKL_NUM_THREADS` (the bundled examples give it to torch), so that experiments sharing
   * a machine do not oversubscribe its cores. Default: not set (a phase takes every core).
   */
  readonly threads?: number
  /** Further paths no phase may see (added to the experiment's hidden paths and the user's credential files). */
  readonly hide?: ReadonlyArray<string>
  /** Further paths every sandboxed phase may read, e.g. a toolkit or weights under your home, which is otherwise emptied. */
  readonly readable?: ReadonlyArray<string>
  /**
   * The home directory a sandboxed phase sees emptied, with only what it needs bound back
   * read-only (default `os.homedir()` when the phase starts; `/root` is emptied too when
   * the runner runs as root).
   */
  readonly hideHome?: string
}

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
const sandboxSpec = (input: {
  readonly experiment: Experiment
  readonly phase: Phase
  readonly runDir: string
  readonly executable: string
  readonly log: string
  readonly hide: ReadonlyArray<string>
  readonly readable: ReadonlyArray<string>
  readonly homes: ReadonlyArray<string>
  readonly withGpus: boolean
}): Sandbox.SandboxSpec => ({
  workdir: realpath(input.experiment.workdir) ?? path.resolve(input.experiment.workdir),
  runDir: realpath(input.runDir) ?? input.runDir,
  readable: [
    ...input.phase.readable.map((target) => realpath(target) ?? path.resolve(target)),
    ...Homes.interpreterTrees(input.executable, input.homes),
    ...input.readable.map((target) => realpath(target) ?? path.resolve(target))
  ],
  writable: input.phase.writable.map((target) => realpath(target) ?? path.resolve(target)),
  readOnly: [input.log],
  homes: input.homes,
  hidden: hiddenEntries([
    ...input.experiment.hidden,
    ...input.hide,
    // a worktree's .git file points into the repository's .git, which is hidden anyway
    path.join(input.experiment.workdir, ".git"),
    ...Homes.credentialFiles(input.homes)
  ]),
  devices: input.withGpus ? gpuDeviceNodes() : []
})

/**
 * Expected artifacts that are missing, empty, or not a regular file inside the run
 * directory (a symbolic link, a FIFO), looked at without opening or following them.
 */
const artifactProblems = (runDir: string, files: ReadonlyArray<string>) => {
  const missing: Array<string> = []
  const empty: Array<string> = []
  const refused: Array<string> = []
  const realRunDir = realpath(runDir) ?? runDir
  for (const file of files) {
    const target = path.resolve(runDir, file)
    const parent = realpath(path.dirname(target))
    const stats = lstat(target)
    if (stats === undefined) missing.push(file)
    else if (parent === undefined || !Sandbox.isWithin(parent, realRunDir)) refused.push(`${file} outside the run directory`)
    else if (!stats.isFile()) refused.push(`${file} as ${kindOf(stats)}`)
    else if (stats.size === 0) empty.push(file)
  }
  return { missing, empty, refused }
}

/** A fresh directory outside the run directory for an unsandboxed phase's HOME and TMPDIR, removed after it. */
const scratchDirectory = (phase: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${Orphans.scratchPrefix}${phase.replace(/[^\w.-]/g, "_")}-`))
      for (const sub of ["home", "tmp"]) fs.mkdirSync(path.join(dir, sub))
      return dir
    }),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )

/**
 * Runs a started phase to its end, with its caps watched until it exits; interrupting
 * stops its whole process tree first, and it is always cleaned up.
 */
const supervise = (start: () => PhaseProcess, watch: (running: PhaseProcess) => () => void) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const running = start()
      return { running, unwatch: watch(running) }
    }),
    ({ running, unwatch }) =>
      Effect.callback<PhaseExit>((resume) => {
        void running.exited.then((exit) => {
          unwatch()
          resume(Effect.succeed(exit))
        })
        return Effect.promise(() => running.stop("interrupted"))
      }),
    ({ running, unwatch }) =>
      Effect.promise(() => {
        unwatch()
        return running.finish()
      })
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
  // bubblewrap dies with the runner (--die-with-parent); an unsandboxed phase's first process does so through setpriv.
  const dieWithRunner = bwrap === undefined ? yield* Orphans.parentDeathPrefix() : []
  const caps = resolveCaps(options, os.totalmem())
  const enforcement = yield* PhaseLimits.detect()
  const nvidiaSmi = options.nvidiaSmi === false || options.vramBudgetGb === undefined
    ? undefined
    : resolveExecutable(options.nvidiaSmi ?? "nvidia-smi", process.env.PATH ?? "", process.cwd())

  const runPhase = Effect.fnUntraced(function*(experiment: Experiment, phase: Phase) {
    const warnings: Array<string> = []
    const lease = yield* pool.lease(options.gpusPerPhase ?? 1)
    const runDir = path.resolve(experiment.runDir)
    const sandboxed = bwrap !== undefined
    // Fresh for every phase, so that nothing an earlier phase wrote runs in this one (~/.local's usercustomize.py).
    const scratch = sandboxed ? undefined : yield* scratchDirectory(phase.name)
    const marker = `${experiment.id}-${phase.name}-${crypto.randomUUID()}`
    const built = phaseEnv({
      parent: process.env,
      ...(options.passEnv === undefined ? {} : { passEnv: options.passEnv }),
      runner: runnerVariables({
        runDir,
        phase: phase.name,
        seed: experiment.seed,
        timeoutSeconds: phase.timeoutSeconds,
        home: scratch === undefined ? Sandbox.phaseHome : path.join(scratch, "home"),
        tmp: scratch === undefined ? Sandbox.phaseTmp : path.join(scratch, "tmp"),
        sandboxed,
        gpus: lease.gpus.map((gpu) => gpu.index),
        hideGpus: options.gpus === "none",
        vramBudgetGb: options.vramBudgetGb,
        ...(options.threads === undefined ? {} : { threads: options.threads }),
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
    // Whatever an earlier phase planted at the log's path is removed, not followed.
    const log = yield* Effect.acquireRelease(
      Effect.sync(() => new BoundedLog(path.join(runDir, `${phase.name}.log`), options.log)),
      (log) => Effect.sync(() => log.close())
    )
    const limits = yield* PhaseLimits.apply(enforcement, caps, {
      withGpus: lease.gpus.length > 0,
      writesElsewhere: phase.writable.length > 0
    })
    warnings.push(...limits.warnings)
    const phaseArgv = bwrap === undefined
      ? [...dieWithRunner, executable, ...args]
      : [
        bwrap,
        ...Sandbox.bwrapArgs(
          sandboxSpec({
            experiment,
            phase,
            runDir,
            executable,
            log: log.path,
            hide: options.hide ?? [],
            readable: options.readable ?? [],
            homes: Homes.homesToHide(options.hideHome),
            withGpus: lease.gpus.length > 0
          }),
          { infoFd: 3, dropCapabilities: process.getuid?.() === 0 }
        ),
        executable,
        ...args
      ]
    const argv = [...limits.argv, ...phaseArgv]
    if (withoutSandbox !== undefined) warnings.push(unsandboxedWarning(withoutSandbox))

    const running = yield* Effect.acquireRelease(
      Effect.sync(() => Orphans.record(path.dirname(runDir), { variable: markerVariable, value: marker }, scratch)),
      (record) => Effect.sync(() => record.remove())
    )
    let stoppedFor: CapStop | undefined
    const watch = (started: PhaseProcess) =>
      watchPhase({
        // An unsandboxed phase's HOME and TMPDIR are on disk too; a sandboxed one's are in memory, under its memory cap.
        roots: scratch === undefined ? [runDir] : [runDir, scratch],
        runDirGb: caps.runDirGb,
        ...(nvidiaSmi === undefined || options.vramBudgetGb === undefined ? {} : {
          // The budget is per GPU: a phase that leased two may use it twice.
          vram: { nvidiaSmi, budgetGb: options.vramBudgetGb * Math.max(1, lease.gpus.length) }
        }),
        members: () => [...(limits.cgroup?.members() ?? []), ...started.members()],
        stop: (over) => {
          if (started.abort()) stoppedFor ??= over
        }
      })
    const exit = yield* supervise(() => {
      const started = PhaseProcess.start({
        argv,
        cwd: experiment.workdir,
        env: built.env,
        sandboxed,
        marker: { variable: markerVariable, value: marker },
        timeoutSeconds: phase.timeoutSeconds,
        killGraceSeconds: options.killGraceSeconds ?? 2,
        log
      })
      running.started(started.pid)
      return started
    }, watch)
    if (exit.spawnError !== undefined) {
      return yield* new RunnerError({ runner: "local", reason: `${phase.name}: could not start ${argv[0]}: ${exit.spawnError}` })
    }
    if (log.close().replaced) {
      warnings.push(`${phase.name} removed or replaced its log; the runner put its own back at ${log.path}`)
    }

    // Read before the scope closes and removes the cgroup with what it counted.
    const seen = limits.seen()
    const lastLines = log.lastLines(200)
    const logTail = tailLines(lastLines, 40)
    const metrics = readMetrics(path.join(runDir, "metrics.json"))
    if (metrics.refused !== undefined) warnings.push(`ignored the metrics file: ${metrics.refused}`)
    const reported = { ...parseReported(lastLines), ...metrics.metrics }
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
      reported,
      caps: { ...seen, ...(stoppedFor === undefined ? {} : { stoppedFor }) }
    })
    if (verdict.status === "ok") warnings.push(...PhaseLimits.survivedCaps(phase.name, seen))
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
      ...(warnings.length === 0 ? {} : { warnings }),
      ...(verdict.flags === undefined || verdict.flags.length === 0 ? {} : { flags: verdict.flags })
    } satisfies RunResult
  }, Effect.scoped)

  const run = Effect.fnUntraced(function*(task: PhaseRun) {
    if (mode === "required" && bwrap === undefined) {
      return yield* new RunnerError({
        runner: "local",
        reason: `sandbox: "required" but ${withoutSandbox}; install bubblewrap (apt-get install bubblewrap) or set sandbox: "auto"`
      })
    }
    const { phase, ...experiment } = task
    fs.mkdirSync(experiment.runDir, { recursive: true })
    // Phases of an earlier runner that was killed (SIGKILL, a crash) must not race this one.
    yield* Effect.promise(() => Orphans.sweepOrphans(path.dirname(path.resolve(experiment.runDir))))
    return yield* runPhase(experiment, phase)
  })

  return Runner.of({ name: "local", run })
})

/** The local runner with a GPU pool of its own (`options.gpus`). */
export const layer = (options: LocalRunnerOptions = {}) =>
  layerWithPool(options).pipe(Layer.provide(GpuPool.layer({
    ...(options.gpus === undefined ? {} : { gpus: options.gpus }),
    ...(typeof options.nvidiaSmi === "string" ? { nvidiaSmi: options.nvidiaSmi } : {})
  })))

/** The local runner over a GpuPool the caller provides (to share one pool between runners). */
export const layerWithPool = (options: LocalRunnerOptions = {}) => Layer.effect(Runner, make(options))
