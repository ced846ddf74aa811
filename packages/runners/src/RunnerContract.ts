/**
 * The runner contract (docs/runners.md) as checks a runner is run against: each one hands
 * the runner a `/bin/sh` phase of a small experiment, or two in turn, and looks at what it did. `LocalRunner`
 * passes them in this package's tests; a plug-in author runs them against their own runner
 * with any test framework:
 *
 *     for (const check of RunnerContract.checks({ runner: MyRunner.layer() })) it(check.name, check.run, 60_000)
 *
 * A check throws an Error saying what broke the contract. The checks need a POSIX shell
 * and `sleep` where the runner runs its phases, and a folder both can see (`tmpDir`).
 */
import { type Phase, type PhaseName, type PhaseRun, type RunResult, Runner } from "@autoresearch/core"
import { Effect, Fiber, type Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface ContractOptions {
  /** The runner under test. */
  readonly runner: Layer.Layer<Runner, unknown>
  /**
   * Where the checks make their working folders; the runner's phases must see it. Default
   * `/var/tmp` on Linux (a sandbox such as LocalRunner's gives each phase a private `/tmp`),
   * else the system's temp folder.
   */
  readonly tmpDir?: string
  /** How long past a phase's limit the runner may take to end it, in seconds (default 15). */
  readonly killSlackSeconds?: number
  /**
   * Whether the runner keeps `hidden` paths unreadable (default true). A runner that cannot
   * (no sandbox) must say so in the result's `warnings` instead: that is what is checked then.
   */
  readonly hidesPaths?: boolean
}

export interface ContractCheck {
  readonly name: string
  readonly run: () => Promise<void>
}

class ContractBroken extends Error {}

const fail = (what: string): never => {
  throw new ContractBroken(what)
}

/** A scratch research setup: a workdir, a run dir that does not exist yet, a hidden folder. */
const scratch = (tmpDir: string) => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(tmpDir, "runner-contract-")))
  const workdir = path.join(base, "work")
  const hidden = path.join(base, "hidden")
  fs.mkdirSync(workdir)
  fs.mkdirSync(hidden)
  return { base, workdir, hidden, runDir: path.join(base, "run"), cleanup: () => fs.rmSync(base, { recursive: true, force: true }) }
}

const shell = (name: PhaseName, script: string, timeoutSeconds = 30, env: Record<string, string> = {}): Phase => ({
  name,
  command: ["/bin/sh", "-c", script],
  timeoutSeconds,
  env,
  readable: [],
  writable: []
})

const run = (layer: ContractOptions["runner"], task: PhaseRun) =>
  Effect.runPromise(Effect.gen(function*() {
    const runner = yield* Runner
    return yield* runner.run(task)
  }).pipe(Effect.provide(layer)) as Effect.Effect<RunResult, unknown>)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Whether a heartbeat file (rewritten every 0.2 s by a phase's process) is still being written. */
const stillBeating = async (file: string) => {
  const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  await sleep(1500)
  const after = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  return after !== before
}

/** A script that leaves a grandchild in its own session writing a heartbeat, then waits. */
const forkingScript = (heartbeat: string) =>
  `(setsid sh -c 'n=0; while true; do n=$((n+1)); echo $n > "${heartbeat}"; sleep 0.2; done' &) ; ` +
  `n=0; while true; do n=$((n+1)); echo $n > "${heartbeat}.parent"; sleep 0.2; done`

const withEnv = async <A>(values: Record<string, string>, body: () => Promise<A>) => {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]))
  Object.assign(process.env, values)
  try {
    return await body()
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

export const checks = (options: ContractOptions): ReadonlyArray<ContractCheck> => {
  const tmpDir = options.tmpDir ?? (process.platform === "linux" && fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir())
  const slack = options.killSlackSeconds ?? 15
  const check = (name: string, body: (setup: ReturnType<typeof scratch>) => Promise<void>): ContractCheck => ({
    name,
    run: async () => {
      const setup = scratch(tmpDir)
      try {
        await body(setup)
      } finally {
        setup.cleanup()
      }
    }
  })
  const experiment = (setup: ReturnType<typeof scratch>, phase: Phase): PhaseRun => ({
    id: "1",
    workdir: setup.workdir,
    runDir: setup.runDir,
    seed: 0,
    phase,
    hidden: [setup.hidden]
  })
  /** The result's one phase, and its log where the contract says it is. */
  const onlyPhase = (setup: ReturnType<typeof scratch>, result: RunResult, name: PhaseName) => {
    if (result.runDir !== setup.runDir) fail(`runDir ${result.runDir}, expected ${setup.runDir}`)
    if (result.phases.length !== 1 || result.phases[0]!.name !== name) fail(`phases ${result.phases.map((phase) => phase.name)}, expected ${name} alone`)
    const phase = result.phases[0]!
    if (path.dirname(phase.logPath) !== setup.runDir || path.basename(phase.logPath) !== `${name}.log`) {
      fail(`${name}'s log is ${phase.logPath}, expected <runDir>/${name}.log`)
    }
    return phase
  }

  return [
    check("runs a phase in workdir, creates the run directory, writes <runDir>/<phase>.log and says ok; the next phase finds what it left", async (setup) => {
      const order = path.join(setup.runDir, "order")
      const prepared = await run(options.runner, experiment(setup, shell("prepare", `pwd; echo prepare >> "${order}"; echo to-stderr 1>&2`)))
      if (prepared.status !== "ok") fail(`status ${prepared.status} (${prepared.reason ?? "no reason"}), expected ok`)
      const prepare = onlyPhase(setup, prepared, "prepare")
      if (prepare.exitCode !== 0 || prepare.timedOut) fail(`prepare: exit ${prepare.exitCode}, timedOut ${prepare.timedOut}`)
      const prepareLog = fs.readFileSync(prepare.logPath, "utf8")
      if (!prepareLog.includes(setup.workdir)) fail(`prepare did not run in workdir: its log says ${JSON.stringify(prepareLog.slice(0, 200))}`)
      if (!prepareLog.includes("to-stderr")) fail("the log does not hold the phase's stderr")
      const trained = await run(options.runner, experiment(setup, shell("train", `cat "${order}"; echo train >> "${order}"; echo "steps: 12"`)))
      if (trained.status !== "ok") fail(`status ${trained.status} (${trained.reason ?? "no reason"}), expected ok`)
      const train = onlyPhase(setup, trained, "train")
      if (fs.readFileSync(order, "utf8") !== "prepare\ntrain\n") fail("the second phase did not find the run directory as the first left it")
      if (!fs.readFileSync(train.logPath, "utf8").includes("steps: 12")) fail("the train log does not hold its stdout")
      if (!fs.existsSync(prepare.logPath)) fail("the second phase's run removed the first one's log")
    }),

    check("a phase that fails is a crash with its exit code, a reason and the log's tail", async (setup) => {
      const result = await run(options.runner, experiment(setup, shell("train", "echo about to fail; echo 'Traceback: boom' 1>&2; exit 3")))
      if (result.status !== "crash") fail(`status ${result.status}, expected crash`)
      if (!result.reason) fail("a crash without a reason")
      if (onlyPhase(setup, result, "train").exitCode !== 3) fail(`exit code ${result.phases[0]?.exitCode}, expected 3`)
      if (!result.logTail.includes("boom")) fail(`logTail ${JSON.stringify(result.logTail)} lacks the failing phase's output`)
    }),

    check("enforces the time limit from outside and kills the whole process tree: timeout", async (setup) => {
      const heartbeat = path.join(setup.runDir, "heartbeat")
      const started = Date.now()
      const result = await run(options.runner, experiment(setup, shell("train", forkingScript(heartbeat), 2)))
      const seconds = (Date.now() - started) / 1000
      if (result.status !== "timeout") fail(`status ${result.status} (${result.reason ?? ""}), expected timeout`)
      if (!result.phases[0]?.timedOut) fail("timedOut is not set")
      if (seconds > 2 + slack) fail(`the run took ${seconds.toFixed(1)} s for a 2 s limit`)
      if (!fs.existsSync(heartbeat)) fail("the phase's grandchild never ran: the check cannot tell")
      if (await stillBeating(heartbeat)) fail("a grandchild in its own session is still running after the run returned")
      if (await stillBeating(`${heartbeat}.parent`)) fail("the phase's own process is still running after the run returned")
    }),

    check("kills the whole tree when interrupted, before the interruption returns", async (setup) => {
      const heartbeat = path.join(setup.runDir, "heartbeat")
      await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        const fiber = yield* Effect.forkChild(runner.run(experiment(setup, shell("train", forkingScript(heartbeat), 120))))
        for (let waited = 0; !fs.existsSync(heartbeat); waited += 100) {
          if (waited > 30_000) return fail("the phase did not start within 30 s")
          yield* Effect.promise(() => sleep(100))
        }
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(options.runner)) as Effect.Effect<void, unknown>)
      if (await stillBeating(heartbeat)) fail("a grandchild is still running after the interrupted run returned")
      if (await stillBeating(`${heartbeat}.parent`)) fail("the phase is still running after the interrupted run returned")
    }),

    check("keeps hidden paths unreadable (or, without a sandbox, says so in warnings)", async (setup) => {
      const secret = path.join(setup.hidden, "targets.txt")
      fs.writeFileSync(secret, "HIDDEN-TARGET-7c2f\n")
      const result = await run(options.runner, experiment(setup, shell("train", `cat "${secret}"; ls "${setup.hidden}" | sed 's/^/listed:/'; echo done`)))
      const log = fs.readFileSync(result.phases[0]!.logPath, "utf8")
      if (options.hidesPaths === false) {
        if ((result.warnings ?? []).length === 0) fail("hidden paths are readable and the result has no warning that says so")
        return
      }
      if (log.includes("HIDDEN-TARGET-7c2f")) fail("a phase read a hidden file")
      if (log.includes("listed:targets.txt")) fail("a phase listed a hidden folder")
      if (!log.includes("done")) fail("the phase did not run")
    }),

    check("passes no secrets: API keys and tokens in the runner's environment do not reach a phase", async (setup) => {
      const sentinel = "sk-contract-sentinel-91d0"
      const result = await withEnv({
        ANTHROPIC_API_KEY: sentinel,
        OPENAI_API_KEY: sentinel,
        HF_TOKEN: sentinel,
        AWS_SECRET_ACCESS_KEY: sentinel,
        GITHUB_TOKEN: sentinel
      }, () => run(options.runner, experiment(setup, shell("train", "env; echo checked", 30, { AUTORESEARCH_SEED: "0" }))))
      const log = fs.readFileSync(result.phases[0]!.logPath, "utf8")
      if (!log.includes("checked")) fail("the phase did not run")
      if (log.includes(sentinel)) fail(`a secret reached the phase: ${log.split("\n").find((line) => line.includes(sentinel))?.split("=")[0]}`)
      if (!log.includes("AUTORESEARCH_SEED=0")) fail("the phase's own env did not reach it")
    }),

    check("triages an exit by signal: not ok, with a reason", async (setup) => {
      const result = await run(options.runner, experiment(setup, shell("train", "kill -TERM $$; sleep 5")))
      if (result.status === "ok") fail("a phase killed by a signal was called ok")
      if (!["crash", "killed", "oom"].includes(result.status)) fail(`status ${result.status} for a phase killed by SIGTERM`)
      if (!result.reason) fail("no reason")
    })
  ]
}
