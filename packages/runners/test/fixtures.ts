/**
 * Test fixtures: a throwaway layout shaped like a research run (a repository with its
 * .git, the state directory with a worktree, the data cache and the run directories),
 * experiments over small stdlib-only Python scripts, and a watcher that records every
 * process carrying a marker so that a test can check none of them survived.
 */
import { combineRunResults, type Experiment, type Phase, type PhaseName, Runner, type RunResult } from "@autoresearch/core"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import * as LocalRunner from "../src/LocalRunner.ts"
import type { LocalRunnerOptions } from "../src/LocalRunner.ts"
import { Process } from "@autoresearch/core"
import * as Sandbox from "../src/Sandbox.ts"

const { isAlive } = Process

/** Whether bubblewrap works here, and if not why; the sandbox tests skip, saying so. */
export const bubblewrap = await Effect.runPromise(Sandbox.probe()).then((probe) =>
  probe.available ? { available: true, reason: "" } : { available: false, reason: probe.reason }
)

/**
 * The system's Python, where there is one: a version manager's `python3` shim (pyenv) can
 * take a second to start under load, which tests of sub-second timing cannot absorb.
 */
export const systemPython = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3"

/** Test roots live outside /tmp, which the sandbox replaces by a private one. */
const testBase = () => (process.platform === "linux" && fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir())

export interface Layout {
  readonly root: string
  readonly repo: string
  /** The research directory in the user's checkout. */
  readonly research: string
  readonly stateDir: string
  readonly worktree: string
  /** The research directory inside the worktree: where phases run. */
  readonly workdir: string
  readonly cache: { readonly dir: string; readonly train: string; readonly inputs: string; readonly hidden: string }
  readonly runsDir: string
  /** A directory outside all of the above. */
  readonly outside: string
  readonly hidden: ReadonlyArray<string>
  readonly cleanup: () => void
}

export const makeLayout = (): Layout => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(testBase(), "autoresearch-runners-")))
  const repo = path.join(root, "repo")
  const research = path.join(repo, "research")
  const stateDir = path.join(repo, ".autoresearch", "t")
  const worktree = path.join(stateDir, "worktree")
  const workdir = path.join(worktree, "research")
  const cacheDir = path.join(stateDir, "cache")
  const cache = {
    dir: cacheDir,
    train: path.join(cacheDir, "train"),
    inputs: path.join(cacheDir, "inputs"),
    hidden: path.join(cacheDir, "hidden")
  }
  const runsDir = path.join(stateDir, "runs")
  const outside = path.join(root, "outside")
  for (const dir of [path.join(repo, ".git"), research, workdir, cache.train, cache.inputs, cache.hidden, runsDir, outside]) {
    fs.mkdirSync(dir, { recursive: true })
  }
  fs.writeFileSync(path.join(repo, ".git", "HEAD"), "ref: refs/heads/main\n")
  fs.writeFileSync(path.join(worktree, ".git"), "gitdir: ../../../.git/worktrees/t\n")
  fs.writeFileSync(path.join(research, "train.py"), "print('the user checkout')\n")
  fs.writeFileSync(path.join(cache.train, "data.txt"), "training data\n")
  fs.writeFileSync(path.join(cache.inputs, "x.txt"), "validation inputs\n")
  fs.writeFileSync(path.join(cache.hidden, "targets.txt"), "held-out targets\n")
  return {
    root,
    repo,
    research,
    stateDir,
    worktree,
    workdir,
    cache,
    runsDir,
    outside,
    hidden: [cache.hidden, path.join(repo, ".git"), path.join(repo, ".autoresearch")],
    cleanup: () => fs.rmSync(root, { recursive: true, force: true })
  }
}

/** Writes a Python script into the working directory and returns a phase that runs it. */
/** A `newLayout` for one test file: every layout it makes is removed after each test. */
export const useLayouts = () => {
  const layouts: Array<Layout> = []
  afterEach(() => {
    for (const layout of layouts.splice(0)) layout.cleanup()
  })
  return () => {
    const layout = makeLayout()
    layouts.push(layout)
    return layout
  }
}

export const scriptPhase = (
  layout: Layout,
  name: PhaseName,
  script: string,
  options: Partial<Omit<Phase, "command">> & { readonly args?: ReadonlyArray<string>; readonly python?: string } = {}
): Phase => {
  const file = `${name}-${crypto.randomUUID().slice(0, 8)}.py`
  fs.writeFileSync(path.join(layout.workdir, file), script)
  return {
    name,
    command: [options.python ?? "python3", file, ...(options.args ?? [])],
    timeoutSeconds: options.timeoutSeconds ?? 30,
    env: options.env ?? {},
    readable: options.readable ?? [layout.cache.train],
    writable: options.writable ?? []
  }
}

/** An experiment with its phases, which the tests run one call each, as the loop does (`runStaged`). */
export interface Staged extends Experiment {
  readonly phases: ReadonlyArray<Phase>
}

export const experiment = (layout: Layout, id: string, phases: ReadonlyArray<Phase>): Staged => {
  const runDir = path.join(layout.runsDir, id)
  fs.mkdirSync(runDir, { recursive: true })
  return { id, workdir: layout.workdir, runDir, seed: 7, phases, hidden: layout.hidden }
}

/** Runs the phases in order, one `runner.run` each, and stops at the first that does not end ok (as Trials does). */
export const runStaged = (runner: Runner["Service"], staged: Staged) =>
  Effect.gen(function*() {
    const { phases, ...experiment } = staged
    const results: Array<RunResult> = []
    for (const phase of phases) {
      const result = yield* runner.run({ ...experiment, phase })
      results.push(result)
      if (result.status !== "ok") break
    }
    return combineRunResults(results)
  })

/** Reads what a script wrote as JSON into its run directory. */
export const readJson = <A = Record<string, unknown>>(experiment: Experiment, file: string): A =>
  JSON.parse(fs.readFileSync(path.join(experiment.runDir, file), "utf8")) as A

const cmdlineHas = (pid: string, marker: Buffer) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`).includes(marker)
  } catch {
    return false
  }
}

/**
 * Records, every 10 ms until stopped, the host PIDs of live processes whose command
 * line holds `marker`: what a test needs to check afterwards that none survived.
 */
export const watchProcesses = (marker: string) => {
  const needle = Buffer.from(marker)
  const seen = new Set<number>()
  const scan = () => {
    for (const pid of fs.readdirSync("/proc")) {
      if (/^\d+$/.test(pid) && cmdlineHas(pid, needle) && isAlive(Number(pid))) seen.add(Number(pid))
    }
  }
  scan()
  const timer = setInterval(scan, 10)
  return {
    seen,
    stop: () => clearInterval(timer),
    /** Waits until at least `count` processes were seen (or the timeout passes). */
    waitFor: async (count: number, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs
      while (seen.size < count && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
      return seen.size
    },
    alive: () => [...seen].filter(isAlive)
  }
}

/** Waits until a file exists (or the timeout passes); says whether it does. */
export const waitForFile = async (file: string, timeoutMs = 10_000) => {
  const until = Date.now() + timeoutMs
  while (!fs.existsSync(file) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
  return fs.existsSync(file)
}

/** Waits until none of the PIDs is alive, or the timeout passes; returns those still alive. */
export const waitDead = async (pids: Iterable<number>, timeoutMs = 2000) => {
  const until = Date.now() + timeoutMs
  let alive = [...pids].filter(isAlive)
  while (alive.length > 0 && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    alive = alive.filter(isAlive)
  }
  return alive
}

/**
 * A script that starts two sleepers that escape the process group (one through
 * `setsid`, one through a double fork), signals that they are up, then `then`.
 * Every process it starts carries `marker` on its command line.
 */
export const daemonScript = (marker: string, then: string) => `
import os, subprocess, sys, time
MARKER = ${JSON.stringify(marker)}
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", MARKER], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", MARKER])
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.2)
open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "daemons-started"), "w").close()
print("daemons started", flush=True)
${then}
`

/** The script that runs one experiment with the local runner in a process of its own. */
/** Runs an experiment with the local runner, with no GPUs and a 1 s kill grace unless `options` say otherwise. */
export const runLocal = (experiment: Staged, options: LocalRunnerOptions = {}) =>
  Effect.provide(
    Runner.use((runner) => runStaged(runner, experiment)),
    LocalRunner.layer({ gpus: "none", killGraceSeconds: 1, ...options })
  )

export const runExperimentScript = path.join(import.meta.dirname, "run-experiment.ts")

/** Runs an experiment with the local runner in a child process, which is SIGKILLed if it takes longer than `timeoutMs`. */
export const runInChild = (experiment: Staged, options: LocalRunnerOptions, timeoutMs: number) =>
  new Promise<{ readonly result?: RunResult; readonly timedOut: boolean; readonly stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [runExperimentScript, JSON.stringify(experiment), JSON.stringify(options)],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const timedOut = error !== null && (error as { killed?: boolean }).killed === true
        resolve({ ...(error === null ? { result: JSON.parse(stdout) as RunResult } : {}), timedOut, stderr })
      }
    )
  })
