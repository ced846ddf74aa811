/**
 * The SDK from the outside: a ten-line script of a user's own, which imports the
 * installed packages and calls `Autoresearch.runPromise`, runs a toy research to its
 * end; and Ctrl-C (SIGINT) to it kills the running phase and releases the run's lock.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { makeToyRepo, plain, readJournal, repoRoot, type ToyRepo, toyTrain, writeCandidate } from "./fixtures.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const waitFor = async (what: string, condition: () => boolean, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** The user's script: ten lines, the packages as installed, progress printed by the SDK's own helper. */
const script = (tag: string) =>
  [
    `import { Autoresearch } from "@autoresearch/cli"`,
    `import { Progress } from "@autoresearch/core"`,
    ``,
    `const outcome = await Autoresearch.runPromise({`,
    `  dir: "research", tag: ${JSON.stringify(tag)}, proposer: "replay", replayDir: process.argv[2],`,
    `  budget: { maxExperiments: 3 }, onEvent: Progress.print`,
    `})`,
    `const best = outcome.summary.best`,
    `console.log(\`best #\${best?.id} \${outcome.config.metric.name}=\${best?.metrics.val_mse} (\${outcome.summary.reason})\`)`,
    ``
  ].join("\n")

let repos: Array<ToyRepo> = []
let children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children = []
  for (const repo of repos) repo.cleanup()
  repos = []
})

/** A toy repository with the packages installed beside it, as `npm install @autoresearch/cli` would. */
const userRepo = (tag: string) => {
  const repo = makeToyRepo()
  repos.push(repo)
  const modules = path.join(path.dirname(repo.root), "node_modules")
  fs.mkdirSync(modules)
  fs.symlinkSync(path.join(repoRoot, "node_modules", "@autoresearch"), path.join(modules, "@autoresearch"))
  fs.writeFileSync(path.join(repo.root, "research.mjs"), script(tag))
  return repo
}

const start = (repo: ToyRepo) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  const child = spawn(process.execPath, ["research.mjs", repo.candidates], { cwd: repo.root, env, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: plain(stdout), stderr: plain(stderr) })
    })
  })
  return { child, stdout: () => plain(stdout), done }
}

describe("a script of ten lines over the SDK", () => {
  it("runs a toy research to completion, printing the SDK's progress lines", async () => {
    const repo = userRepo("sdk")
    writeCandidate(repo, "01", "degree 5", { "train.py": toyTrain({ DEGREE: "5" }) })
    writeCandidate(repo, "02", "degree 1", { "train.py": toyTrain({ DEGREE: "1" }) })
    const result = await start(repo).done
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^#0 baseline$/m)
    expect(result.stdout).toMatch(/^#0 keep val_mse=.*: baseline$/m)
    expect(result.stdout).toMatch(/^#1 degree 5$/m)
    expect(result.stdout).toMatch(/^finished: reached max experiments \(3\)$/m)
    expect(result.stdout).toMatch(/^best #\d val_mse=[\d.e-]+ \(reached max experiments \(3\)\)$/m)
    const journal = readJournal(repo, "sdk")
    expect(journal.map((entry) => entry.id)).toEqual([0, 1, 2])
    expect(journal[0]!.status).toBe("keep")
    // The log paths come back from the runner and are recorded, not guessed by the loop.
    expect(journal[0]!.logs).toEqual(expect.arrayContaining([expect.stringMatching(/runs\/0\/train\.log$/)]))
    expect(fs.existsSync(path.join(repo.stateDir("sdk"), "lock"))).toBe(false)
  })

  it("stops on SIGINT: the phase is killed, the lock released, and the promise rejects with Interrupted", async () => {
    const repo = userRepo("sdk-int")
    const heartbeat = [
      "",
      "_beat = os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'beat')",
      "_started = time.time()",
      "while time.time() - _started < 60:",
      "    open(_beat, 'w').write(str(time.time()))",
      "    time.sleep(0.05)",
      ""
    ].join("\n")
    writeCandidate(repo, "01", "a long one", { "train.py": toyTrain({}, heartbeat) })
    const beat = path.join(repo.stateDir("sdk-int"), "runs", "1", "beat")
    const lock = path.join(repo.stateDir("sdk-int"), "lock")
    const run = start(repo)
    await waitFor("experiment 1's heartbeat", () => fs.existsSync(beat) || run.child.exitCode !== null)
    expect(run.child.exitCode).toBe(null)
    expect(fs.existsSync(lock)).toBe(true)
    run.child.kill("SIGINT")
    const result = await run.done
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain("interrupted by SIGINT; run it again to resume")
    expect(fs.existsSync(lock)).toBe(false)
    const before = fs.readFileSync(beat, "utf8")
    await sleep(1_000)
    expect(fs.readFileSync(beat, "utf8")).toBe(before)
    expect(readJournal(repo, "sdk-int").map((entry) => entry.id)).toEqual([0])
  })
})
