/**
 * LocalRunner against the runner contract (RunnerContract.checks, which a plug-in author
 * runs against their own runner the same way): in the bubblewrap sandbox where it works,
 * and without one, where hidden paths are readable and the result must say so.
 */
import { Runner, type RunResult } from "@autoresearch/core"
import { Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as LocalRunner from "../src/LocalRunner.ts"
import * as RunnerContract from "../src/RunnerContract.ts"
import { bubblewrap } from "./fixtures.ts"

describe.skipIf(!bubblewrap.available)(`LocalRunner, sandboxed${bubblewrap.available ? "" : ` (SKIPPED: ${bubblewrap.reason})`}`, () => {
  for (const check of RunnerContract.checks({ runner: LocalRunner.layer({ gpus: "none", sandbox: "required", killGraceSeconds: 1 }) })) {
    it(check.name, check.run, 60_000)
  }
})

describe("LocalRunner, without a sandbox", () => {
  for (const check of RunnerContract.checks({ runner: LocalRunner.layer({ gpus: "none", sandbox: "off", killGraceSeconds: 1 }), hidesPaths: false })) {
    it(check.name, check.run, 60_000)
  }
})

/**
 * The checks can fail: a naive runner (spawn with the parent's environment, no sandbox, a
 * timer that kills only the first process) passes the easy ones and is caught on the rest.
 */
describe("a naive runner against the contract", () => {
  const naive = Layer.succeed(Runner, Runner.of({
    name: "naive",
    run: ({ phase, ...experiment }) =>
      Effect.promise(async (): Promise<RunResult> => {
        fs.mkdirSync(experiment.runDir, { recursive: true })
        const logPath = path.join(experiment.runDir, `${phase.name}.log`)
        const log = fs.openSync(logPath, "w")
        const started = Date.now()
        const child = spawn(phase.command[0]!, phase.command.slice(1), { cwd: experiment.workdir, env: { ...process.env, ...phase.env }, stdio: ["ignore", log, log] })
        let timedOut = false
        const timer = setTimeout(() => {
          timedOut = true
          child.kill("SIGKILL")
        }, phase.timeoutSeconds * 1000)
        const [exitCode, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (code, sig) => resolve([code, sig])))
        clearTimeout(timer)
        fs.closeSync(log)
        const status = timedOut ? "timeout" : exitCode === 0 ? "ok" : "crash"
        return {
          status,
          ...(status === "ok" ? {} : { reason: `${phase.name} ended with ${exitCode ?? signal}` }),
          phases: [{ name: phase.name, exitCode, signal, seconds: (Date.now() - started) / 1000, logPath, timedOut }],
          runDir: experiment.runDir,
          logTail: fs.readFileSync(logPath, "utf8").slice(-2000)
        }
      })
  }))
  const byName = new Map(RunnerContract.checks({ runner: naive, killSlackSeconds: 5 }).map((check) => [check.name.split(":")[0]!.split(" (")[0]!, check]))
  const find = (start: string) => [...byName.entries()].find(([name]) => name.startsWith(start))![1]

  it("passes the checks it keeps: workdir, logs, a crash", async () => {
    await find("runs a phase in workdir").run()
    await find("a phase that fails").run()
  })

  it.each([
    ["enforces the time limit", /grandchild in its own session is still running/],
    ["keeps hidden paths unreadable", /a phase read a hidden file/],
    ["passes no secrets", /a secret reached the phase: (ANTHROPIC_API_KEY|OPENAI_API_KEY|HF_TOKEN|AWS_SECRET_ACCESS_KEY|GITHUB_TOKEN)/]
  ])("is caught: %s", async (start, message) => {
    try {
      await expect(find(start).run()).rejects.toThrow(message)
    } finally {
      // The grandchild the naive runner left: its heartbeat loop names the contract's folder.
      spawnSync("pkill", ["-f", "runner-contract-"])
    }
  }, 60_000)
})
