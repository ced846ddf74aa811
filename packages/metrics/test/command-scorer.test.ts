/**
 * CommandScorer's command is trusted and runs unsandboxed, so it gets the same hold on
 * its processes as a phase: interrupting a score stops its whole tree, and a score left
 * running by a CLI that was SIGKILLed is killed by the next run's sweep. Real processes;
 * the killed-parent case drives the built package (packages/metrics/dist) in a child Node.
 */
import { it } from "@effect/vitest"
import { Orphans, Process, type ScoreInput } from "@autoresearch/core"
import { Effect, Fiber } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect } from "vitest"
import * as CommandScorer from "../src/CommandScorer.ts"

const packageDir = path.resolve(import.meta.dirname, "..")

/** A score command that starts a helper, writes both PIDs into the run directory, and never ends. */
const hanging = `
import os, subprocess, time
helper = subprocess.Popen(["sleep", "60"])
with open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "pids.tmp"), "w") as f:
    f.write(f"{os.getpid()} {helper.pid}")
os.rename(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "pids.tmp"), os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "pids"))
time.sleep(60)
`

const layouts: Array<string> = []
afterEach(() => {
  for (const dir of layouts.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const layout = () => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "command-scorer-")))
  layouts.push(base)
  const runDir = path.join(base, "runs", "1")
  fs.mkdirSync(runDir, { recursive: true })
  fs.writeFileSync(path.join(base, "score.py"), hanging)
  const input: ScoreInput = {
    experiment: { id: "1", workdir: base, runDir, seed: 0, hidden: [] },
    run: { status: "ok", phases: [], runDir, logTail: "" },
    hiddenDir: base,
    cacheDir: base,
    stateDir: base,
    incumbent: undefined
  }
  return { base, runsDir: path.dirname(runDir), input, command: ["python3", path.join(base, "score.py")] }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The PIDs of the score command and its helper, once it has written them. */
const pidsOf = async (runDir: string) => {
  const file = path.join(runDir, "pids")
  for (let waited = 0; !fs.existsSync(file); waited += 20) {
    if (waited > 30_000) throw new Error("the score command did not start")
    await sleep(20)
  }
  return fs.readFileSync(file, "utf8").split(" ").map(Number)
}

const settle = async (pids: ReadonlyArray<number>) => {
  for (let waited = 0; pids.some(Process.isAlive) && waited < 5000; waited += 20) await sleep(20)
  return pids.filter(Process.isAlive)
}

describe("CommandScorer's processes", () => {
  it.live("an interrupted score stops the command and what it started", () =>
    Effect.gen(function*() {
      const { input, command } = layout()
      const fiber = yield* Effect.forkChild(CommandScorer.make({ command, metric: "m" }).score(input))
      const pids = yield* Effect.promise(() => pidsOf(input.run.runDir))
      yield* Fiber.interrupt(fiber)
      expect(yield* Effect.promise(() => settle(pids))).toEqual([])
    }))

  it.live("a score left running by a SIGKILLed CLI is killed by the next run's sweep", () =>
    Effect.gen(function*() {
      const { input, command, runsDir } = layout()
      const script = `
        import { CommandScorer } from "@autoresearch/metrics"
        import { Effect } from "effect"
        await Effect.runPromise(CommandScorer.make({ command: ${JSON.stringify(command)}, metric: "m" }).score(${JSON.stringify(input)}))
      `
      const cli = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: packageDir, stdio: "ignore" })
      const pids = yield* Effect.promise(() => pidsOf(input.run.runDir))
      cli.kill("SIGKILL")
      yield* Effect.promise(() => new Promise((resolve) => cli.once("exit", resolve)))
      // What the next run does first, with the run's lock held.
      yield* Effect.promise(() => Orphans.sweepOrphans(runsDir))
      expect(yield* Effect.promise(() => settle(pids))).toEqual([])
      expect(fs.readdirSync(runsDir).filter((name) => name.startsWith(".running-"))).toEqual([])
    }))
})
