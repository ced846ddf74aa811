/**
 * How `autoresearch run` ends when the world goes away under it: a hang-up (SIGHUP) is
 * an interrupt like Ctrl-C, and a closed stdout pipe (`| head -2`) ends the run quietly.
 * Either way the run's finalizers run: the phase is killed and the lock released.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cliBin, makeToyRepo, plain, readJournal, type ToyRepo, toyTrain, writeCandidate } from "./fixtures.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const waitFor = async (what: string, condition: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

interface Started {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

const start = (args: ReadonlyArray<string>, cwd: string): Started => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  const child = spawn(process.execPath, [cliBin, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr: plain(stderr) })
    })
  })
  return { child, stdout: () => plain(stdout), done }
}

/**
 * A train.py that, once running, rewrites `beat` in its run directory every 50 ms until
 * a file `stop` appears there (at most 60 s): a test can tell whether the phase is alive.
 */
const heartbeat = [
  "",
  "_beat = os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'beat')",
  "_stop = os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'stop')",
  "_started = time.time()",
  "while time.time() - _started < 60 and not os.path.exists(_stop):",
  "    open(_beat, 'w').write(str(time.time()))",
  "    time.sleep(0.05)",
  ""
].join("\n")

/** True when `file` is rewritten within `ms`. */
const beating = async (file: string, ms = 1_000) => {
  const before = fs.readFileSync(file, "utf8")
  await sleep(ms)
  return fs.readFileSync(file, "utf8") !== before
}

let repos: Array<ToyRepo> = []
let children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children = []
  for (const repo of repos) repo.cleanup()
  repos = []
})

/** A toy repository whose experiment 1 runs the heartbeat; returns where its beat and lock are. */
const heartbeatRun = (tag: string) => {
  const repo = makeToyRepo()
  repos.push(repo)
  writeCandidate(repo, "01", "a long one", { "train.py": toyTrain({}, heartbeat) })
  const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", tag, "--max-experiments", "2"]
  return {
    repo,
    args,
    beat: path.join(repo.stateDir(tag), "runs", "1", "beat"),
    lock: path.join(repo.stateDir(tag), "lock")
  }
}

describe("autoresearch run: SIGHUP", () => {
  it("interrupts like SIGINT: the phase is killed and the lock released", async () => {
    const { repo, args, beat, lock } = heartbeatRun("hup")
    const run = start(args, repo.root)
    await waitFor("experiment 1's heartbeat", () => fs.existsSync(beat) || run.child.exitCode !== null)
    expect(run.child.exitCode).toBe(null)
    expect(fs.existsSync(lock)).toBe(true)
    run.child.kill("SIGHUP")
    const result = await run.done
    expect(result.stderr).toContain("autoresearch: interrupted; run the same command again to resume")
    expect(result.code).not.toBe(0)
    expect(fs.existsSync(lock)).toBe(false)
    expect(await beating(beat)).toBe(false)
    expect(readJournal(repo, "hup").map((entry) => entry.id)).toEqual([0])
  })
})

describe("autoresearch run: a closed stdout pipe", () => {
  it("ends quietly, without an EPIPE stack, and runs its finalizers", async () => {
    const { repo, args, beat, lock } = heartbeatRun("pipe")
    const run = start(args, repo.root)
    await waitFor("experiment 1's heartbeat", () => fs.existsSync(beat) || run.child.exitCode !== null)
    expect(run.child.exitCode).toBe(null)
    // What `| head -2` does once it has its lines: it closes the pipe.
    expect(run.stdout().split("\n").length).toBeGreaterThan(2)
    run.child.stdout!.destroy()
    // The next line the run prints, at the end of the train phase, meets the closed pipe.
    fs.writeFileSync(path.join(path.dirname(beat), "stop"), "")
    const result = await run.done
    expect(result.stderr).not.toMatch(/EPIPE|Error|at /)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(141)
    expect(fs.existsSync(lock)).toBe(false)
  })
})
