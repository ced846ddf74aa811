/**
 * SlurmRunner on a real Slurm: a one-node cluster on this machine (scripts/slurm-local.sh
 * starts it as root, installing slurm-wlm and munge with apt), no mock of Slurm's commands.
 * It passes the runner contract, cancels its job when interrupted, leaves no secret in the
 * job's environment, and cancels the jobs a killed run left. Where no Slurm can be had
 * (not root, no apt) the tests skip and say so; in CI as root they must run.
 */
import { type PhaseRun, Runner } from "@autoresearch/core"
import { Effect, Fiber } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RunnerContract from "../src/RunnerContract.ts"
import * as SlurmRunner from "../src/SlurmRunner.ts"
import { bubblewrap } from "./fixtures.ts"
import { cluster, mustRun, script } from "./slurm-cluster.ts"

const base = () => (fs.existsSync("/var/tmp") ? "/var/tmp" : undefined)
const local = { gpus: "none" as const, sandbox: bubblewrap.available ? ("required" as const) : ("off" as const), killGraceSeconds: 1 }
const layer = (options: SlurmRunner.SlurmRunnerOptions = {}) => SlurmRunner.layer({ pollMs: 250, graceSeconds: 60, local, ...options })
const ourJobs = () =>
  execFileSync("squeue", ["-h", "--me", "-o", "%i %j %T"], { encoding: "utf8" }).split("\n").filter((line) => line.includes(" autoresearch-"))

describe.skipIf(!cluster.available && !mustRun)(`SlurmRunner on a real one-node Slurm${cluster.available ? "" : ` (${cluster.reason})`}`, () => {
  beforeAll(() => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
  })
  afterAll(() => {
    if (cluster.started) spawnSync("bash", [script, "stop"])
  })

  describe("the runner contract", () => {
    for (const check of RunnerContract.checks({ runner: layer(), hidesPaths: bubblewrap.available, ...(base() ? { tmpDir: base()! } : {}) })) {
      it(check.name, check.run, 120_000)
    }
  })

  /** Experiment 5 of one `/bin/sh` train phase, in a scratch folder's workdir and run dir. */
  const shellExperiment = (setup: ReturnType<typeof scratch>, script: string, timeoutSeconds: number): PhaseRun => ({
    id: "5",
    workdir: setup.workdir,
    runDir: setup.runDir,
    seed: 0,
    hidden: [],
    phase: { name: "train", command: ["/bin/sh", "-c", script], timeoutSeconds, env: {}, readable: [], writable: [] }
  })

  const scratch = () => {
    const dir = fs.mkdtempSync(path.join(base() ?? "/tmp", "slurm-test-"))
    fs.mkdirSync(path.join(dir, "work"))
    return { dir, workdir: path.join(dir, "work"), runDir: path.join(dir, "runs", "5"), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
  }

  it("submits with --export=NONE: a secret of the submitter's is in neither the job's environment nor the phase's", async () => {
    const setup = scratch()
    const sentinel = "sk-slurm-sentinel-4411"
    process.env.ANTHROPIC_API_KEY = sentinel
    try {
      const result = await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        // Without the sandbox the phase's parent is the job's own process: its environment is readable.
        return yield* runner.run(shellExperiment(setup, "env; echo ---; tr '\\0' '\\n' < /proc/$PPID/environ; echo done", 60))
      }).pipe(Effect.provide(layer({ local: { ...local, sandbox: "off" } }))))
      expect(result.status).toBe("ok")
      const log = fs.readFileSync(path.join(setup.runDir, "train.log"), "utf8")
      expect(log).toContain("done")
      expect(log).toContain("SLURM_JOB_ID=")
      expect(log).not.toContain(sentinel)
      expect(fs.readFileSync(path.join(SlurmRunner.jobDir(setup.runDir), "train.sh"), "utf8")).not.toContain(sentinel)
    } finally {
      delete process.env.ANTHROPIC_API_KEY
      setup.cleanup()
    }
  }, 120_000)

  it("cancels its job when interrupted: none is left queued or running", async () => {
    const setup = scratch()
    try {
      await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        const fiber = yield* Effect.forkChild(runner.run(shellExperiment(setup, "echo started; sleep 300", 600)))
        for (let waited = 0; !fs.existsSync(path.join(setup.runDir, "train.log")) || !fs.readFileSync(path.join(setup.runDir, "train.log"), "utf8").includes("started"); waited += 200) {
          if (waited > 60_000) throw new Error("the job did not start within 60 s")
          yield* Effect.sleep(200)
        }
        expect(ourJobs().some((line) => line.endsWith("RUNNING"))).toBe(true)
        yield* Fiber.interrupt(fiber)
      }).pipe(Effect.provide(layer())))
      expect(ourJobs()).toEqual([])
    } finally {
      setup.cleanup()
    }
  }, 120_000)

  it("a time limit Slurm enforces itself (its --time, shorter than the phase's own limit) is a timeout", async () => {
    const setup = scratch()
    try {
      const started = Date.now()
      // --time=1 (one minute) comes after the runner's own --time: Slurm takes the last one.
      const result = await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        return yield* runner.run(shellExperiment(setup, "echo started; sleep 600", 900))
      }).pipe(Effect.provide(layer({ extraArgs: ["--time=1"] }))))
      const seconds = (Date.now() - started) / 1000
      expect(result.status, result.reason).toBe("timeout")
      expect(result.reason).toMatch(/TIMEOUT/)
      expect(result.phases[0]!.timedOut).toBe(true)
      expect(seconds).toBeGreaterThan(55)
      expect(seconds).toBeLessThan(240)
      expect(ourJobs()).toEqual([])
    } finally {
      setup.cleanup()
    }
  }, 300_000)

  it("a job over its --mem, killed by Slurm, is oom", async () => {
    const setup = scratch()
    try {
      // 250 MB for the job (Node on the node takes about 60 MB of it); the phase touches 800 MB.
      const grow = "python3 -c 'import time; b = bytearray(800 << 20); b[::4096] = bytes(len(b[::4096])); print(\"allocated\", flush=True); time.sleep(60)'"
      const result = await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        return yield* runner.run(shellExperiment(setup, grow, 300))
      }).pipe(Effect.provide(layer({ memGb: 0.25 }))))
      expect(result.status, `${result.reason}\n${result.logTail}`).toBe("oom")
      expect(result.reason).toMatch(/memory limit/)
      expect(ourJobs()).toEqual([])
    } finally {
      setup.cleanup()
    }
  }, 300_000)

  it("a run resumed after its process died cancels the jobs the dead one left", async () => {
    const setup = scratch()
    try {
      fs.mkdirSync(setup.runDir, { recursive: true })
      // What a SIGKILLed run leaves: a job of this research run, still queued or running.
      const left = execFileSync("sbatch", ["--parsable", `--job-name=${SlurmRunner.jobName(setup.runDir, "4", "train")}`, "--export=NONE", "--output=/dev/null", "--wrap", "sleep 300"], { encoding: "utf8" }).trim()
      expect(ourJobs().some((line) => line.startsWith(`${left} `))).toBe(true)
      const result = await Effect.runPromise(Effect.gen(function*() {
        const runner = yield* Runner
        return yield* runner.run(shellExperiment(setup, "echo resumed", 60))
      }).pipe(Effect.provide(layer())))
      expect(result.status).toBe("ok")
      expect(ourJobs().filter((line) => line.startsWith(`${left} `))).toEqual([])
    } finally {
      setup.cleanup()
    }
  }, 120_000)
})

describe("SlurmRunner's triage of a job's final state", () => {
  const phase = { name: "train" as const, timeoutSeconds: 60 }
  const own = { status: "crash" as const, reason: "train exited with 1", phases: [], runDir: "/r", logTail: "boom" }
  it.each([
    ["TIMEOUT", "timeout"],
    ["DEADLINE", "timeout"],
    ["OUT_OF_MEMORY", "oom"],
    ["CANCELLED", "killed"],
    ["NODE_FAIL", "killed"],
    ["PREEMPTED", "killed"],
    ["FAILED", "crash"],
    ["COMPLETED", "crash"]
  ])("%s without the phase's own result is %s", (state, status) => {
    expect(SlurmRunner.triage(state, phase, undefined, "last line\n", "/r", "/r/train.log").status).toBe(status === "crash" && state === "COMPLETED" ? "crash" : status)
  })
  it("takes the phase's own result only when the job completed (after any other end, the phase could have planted it)", () => {
    expect(SlurmRunner.triage("COMPLETED", phase, own, "", "/r", "/r/train.log")).toBe(own)
    const planted = { ...own, status: "ok" as const }
    expect(SlurmRunner.triage("FAILED", phase, planted, "", "/r", "/r/train.log").status).toBe("crash")
    expect(SlurmRunner.triage("TIMEOUT", phase, own, "", "/r", "/r/train.log").status).toBe("timeout")
  })
  it("reads Slurm's own word for a job killed over its --mem (FAILED, without the cgroup plugin) as oom; not the phase's", () => {
    const said = "slurmstepd-node3: error: Exceeded job memory limit\n"
    expect(SlurmRunner.triage("FAILED", phase, undefined, "", "/r", "/r/train.log", said).status).toBe("oom")
    expect(SlurmRunner.triage("FAILED", phase, undefined, said, "/r", "/r/train.log", "").status).toBe("crash")
    expect(SlurmRunner.triage("COMPLETED", phase, own, "", "/r", "/r/train.log", said)).toBe(own)
  })
  it("asks Slurm for whole minutes and parses scontrol's one-line form", () => {
    expect(SlurmRunner.slurmTime(30)).toBe("1:00")
    expect(SlurmRunner.slurmTime(600 + 120)).toBe("12:00")
    expect(SlurmRunner.parseJob("JobId=12 JobName=autoresearch-x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15")).toMatchObject({ JobId: "12", JobState: "TIMEOUT", ExitCode: "0:15" })
  })
})
