/**
 * The Runner over local subprocesses (execa). Each phase runs in its own process group
 * with an environment built from an allowlist, its output going straight to a log file
 * in the run directory, and a wall-clock limit enforced from outside: past it, SIGTERM
 * to the whole group, then SIGKILL. Interrupting the Effect does the same.
 */
import { Effect, Layer } from "effect"
import { Runner, RunnerError, type Experiment, type RunResult } from "@autoresearch/core"
import { execa } from "execa"
import * as fs from "node:fs"
import * as path from "node:path"
import { triage } from "./Triage.ts"

export interface LocalRunnerOptions {
  /** Seconds between SIGTERM and SIGKILL. */
  readonly killGraceSeconds?: number
  /** Variables passed through from the parent when set (besides PATH, LANG, LC_*, CUDA_*). */
  readonly passEnv?: ReadonlyArray<string>
}

const allowed = (name: string, extra: ReadonlySet<string>) =>
  name === "PATH" || name === "LANG" || name.startsWith("LC_") || name.startsWith("CUDA_") || name === "TZ" ||
  extra.has(name)

/** The environment a phase sees: an allowlist of the parent's, a private HOME and TMPDIR, and the phase's own. */
export const phaseEnv = (
  parent: NodeJS.ProcessEnv,
  phase: Readonly<Record<string, string>>,
  runDir: string,
  extra: ReadonlySet<string> = new Set()
): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(parent)) if (value !== undefined && allowed(name, extra)) env[name] = value
  return {
    ...env,
    HOME: path.join(runDir, "home"),
    TMPDIR: path.join(runDir, "tmp"),
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    ...phase
  }
}

const killGroup = (pid: number | undefined, signal: NodeJS.Signals) => {
  if (pid === undefined) return
  try {
    process.kill(-pid, signal)
  } catch {
    // the group is already gone
  }
}

const readTail = (file: string, bytes = 8192) => {
  const size = fs.statSync(file).size
  const fd = fs.openSync(file, "r")
  try {
    const length = Math.min(size, bytes)
    const buffer = Buffer.alloc(length)
    fs.readSync(fd, buffer, 0, length, size - length)
    return buffer.toString("utf8")
  } finally {
    fs.closeSync(fd)
  }
}

export const make = (options: LocalRunnerOptions = {}) => {
  const killGrace = (options.killGraceSeconds ?? 2) * 1000
  const extra = new Set(options.passEnv ?? [])
  const runPhase = (experiment: Experiment, phase: Experiment["phases"][number]) =>
    Effect.callback<RunResult, RunnerError>((resume) => {
      const logPath = path.join(experiment.runDir, `${phase.name}.log`)
      for (const dir of ["home", "tmp"]) fs.mkdirSync(path.join(experiment.runDir, dir), { recursive: true })
      const log = fs.openSync(logPath, "w")
      const started = performance.now()
      let timedOut = false
      let interrupted = false
      let killTimer: NodeJS.Timeout | undefined
      const stop = () => {
        killGroup(child.pid, "SIGTERM")
        killTimer ??= setTimeout(() => killGroup(child.pid, "SIGKILL"), killGrace)
      }
      const child = execa(phase.command[0]!, phase.command.slice(1), {
        cwd: experiment.workdir,
        env: phaseEnv(process.env, phase.env, experiment.runDir, extra),
        extendEnv: false,
        detached: true,
        reject: false,
        stdin: "ignore",
        stdout: log as unknown as "inherit",
        stderr: log as unknown as "inherit",
        cleanup: true
      })
      const deadline = setTimeout(() => {
        timedOut = true
        stop()
      }, phase.timeoutSeconds * 1000)
      child.then((result) => {
        clearTimeout(deadline)
        fs.closeSync(log)
        // Whatever the experiment left behind in its group (children, daemons) goes too.
        killGroup(child.pid, "SIGKILL")
        if (killTimer) clearTimeout(killTimer)
        if (result.failed && result.code === "ENOENT") {
          return resume(Effect.fail(new RunnerError({ runner: "local", reason: `command not found: ${phase.command[0]}` })))
        }
        const logTail = readTail(logPath)
        const verdict = triage({
          phase: phase.name,
          exitCode: result.exitCode ?? null,
          signal: result.signal ?? null,
          timedOut,
          interrupted,
          timeoutSeconds: phase.timeoutSeconds,
          logTail
        })
        resume(Effect.succeed({
          status: verdict.status,
          ...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
          phases: [{
            name: phase.name,
            exitCode: result.exitCode ?? null,
            signal: result.signal ?? null,
            seconds: (performance.now() - started) / 1000,
            logPath,
            timedOut
          }],
          runDir: experiment.runDir,
          logTail: logTail.split("\n").slice(-40).join("\n")
        }))
      })
      return Effect.sync(() => {
        interrupted = true
        clearTimeout(deadline)
        stop()
      })
    })
  return Runner.of({
    name: "local",
    run: Effect.fnUntraced(function*(experiment: Experiment) {
      let last: RunResult | undefined
      const phases: Array<RunResult["phases"][number]> = []
      for (const phase of experiment.phases) {
        last = yield* runPhase(experiment, phase)
        phases.push(...last.phases)
        if (last.status !== "ok") break
      }
      if (last === undefined) return yield* new RunnerError({ runner: "local", reason: "experiment has no phases" })
      return { ...last, phases }
    })
  })
}

export const layer = (options: LocalRunnerOptions = {}) => Layer.succeed(Runner, make(options))
