/**
 * `autoresearch run --runner slurm` end to end on a real one-node Slurm: the toy example's
 * first replay candidates (a keep, a discard and a crash), every phase a batch job run
 * through LocalRunner on the node; a run SIGKILLed with its job still in Slurm, resumed;
 * and the CPU smoke task of examples/lwir-sr. Skips, saying so, where no Slurm can be had;
 * in CI as root it must run.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cluster, mustRun, script } from "../../runners/test/slurm-cluster.ts"
import { cliBin, git, makeToyRepo, plain, readJournal, repoRoot, toyDir, toyTrain, writeCandidate } from "./fixtures.ts"

const ourJobs = () =>
  execFileSync("squeue", ["-h", "--me", "-o", "%i %j"], { encoding: "utf8" }).split("\n").map((line) => line.trim()).filter((line) => line.includes(" autoresearch-"))
const jobState = (id: string) => /JobState=(\S+)/.exec(execFileSync("scontrol", ["show", "job", "-o", id], { encoding: "utf8" }))?.[1]
const cliEnv = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  delete env.ANTHROPIC_API_KEY
  delete env.OPENAI_API_KEY
  delete env.OPENAI_BASE_URL
  return env
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!cluster.available && !mustRun)(`run --runner slurm${cluster.available ? "" : ` (${cluster.reason})`}`, () => {
  afterAll(() => {
    if (cluster.started) spawnSync("bash", [script, "stop"])
  })

  it("runs the toy's candidates as Slurm jobs: kept, discarded, crashed", () => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
    const repo = makeToyRepo()
    try {
      // The toy's first three candidates: a keep, a discard and a crash.
      for (const name of ["01-degree-5", "02-degree-1", "03-crash"]) {
        fs.cpSync(path.join(toyDir, "candidates", name), path.join(repo.candidates, name), { recursive: true })
      }
      const stdout = plain(execFileSync(process.execPath, [
        cliBin, "run", "research", "--runner", "slurm", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "slurm"
      ], { cwd: repo.root, env: cliEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 }))
      expect(stdout).toContain("finished")
      const journal = readJournal(repo, "slurm")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard", "crash"])
      const runs = path.join(repo.stateDir("slurm"), "runs")
      // Each experiment's phases were batch jobs: their scripts, results and Slurm's own output are
      // the runner's, beside the run directory (which the phase may write), not in it.
      for (const id of ["0", "1", "2"]) {
        for (const phase of ["train", "predict"]) {
          for (const file of [`${phase}.sh`, `${phase}.json`, `${phase}.out`, `${phase}.result.json`]) {
            expect(fs.existsSync(path.join(runs, ".slurm", id, file)), `${id}/${file}`).toBe(true)
          }
          expect(fs.readdirSync(path.join(runs, id)).filter((file) => file.includes("slurm")), id).toEqual([])
          expect(fs.existsSync(path.join(runs, id, `${phase}.log`)), `${id}/${phase}.log`).toBe(true)
        }
      }
      expect(journal[3]!.reason).toMatch(/train/)
      expect(fs.existsSync(path.join(runs, ".slurm", "3", "predict.sh"))).toBe(false)
      expect(execFileSync("squeue", ["-h", "--me", "-o", "%j"], { encoding: "utf8" })).not.toContain("autoresearch-")
    } finally {
      repo.cleanup()
    }
  }, 300_000)

  it("resumes a run SIGKILLed while its job was in Slurm: the job is cancelled, the experiment runs again, nothing twice", async () => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
    // The slow candidate sleeps 10 s; once it runs, its job is suspended, so it cannot finish on its
    // own however late the resumed run gets to it (CI's load once delayed that past the sleep).
    const repo = makeToyRepo({ configPatch: (text) => text.replace("experimentSeconds: 20, graceSeconds: 5", "experimentSeconds: 40, graceSeconds: 5") })
    try {
      writeCandidate(repo, "01-slow", "a slow one", { "train.py": toyTrain({}, "\nimport time\nprint('slow', flush=True)\ntime.sleep(10)\n") })
      writeCandidate(repo, "02-line", "a line", { "train.py": toyTrain({ DEGREE: "1" }) })
      const args = [cliBin, "run", "research", "--runner", "slurm", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "killed", "--max-experiments", "3"]
      const first = spawn(process.execPath, args, { cwd: repo.root, env: cliEnv(), stdio: "ignore" })
      const exited = new Promise((resolve) => first.on("exit", resolve))
      let left: Array<string> = []
      for (let waited = 0; left.length === 0; waited += 250) {
        if (waited > 120_000) throw new Error("experiment 1's train job never reached Slurm")
        await sleep(250)
        left = ourJobs().filter((line) => line.endsWith("-1-train"))
      }
      first.kill("SIGKILL")
      await exited
      const job = left[0]!.split(" ")[0]!
      for (let waited = 0; jobState(job) !== "RUNNING"; waited += 250) {
        if (waited > 60_000) throw new Error(`experiment 1's train job ${job} never ran: ${jobState(job)}`)
        await sleep(250)
      }
      execFileSync("scontrol", ["suspend", job])
      expect(jobState(job)).toBe("SUSPENDED")
      // The dead run's job outlives it: Slurm, not the run, owns it.
      expect(ourJobs().map((line) => line.split(" ")[0])).toContain(job)

      const resumed = plain(execFileSync(process.execPath, args, { cwd: repo.root, env: cliEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 }))
      expect(resumed).toContain("finished")
      const journal = readJournal(repo, "killed")
      expect(jobState(job), JSON.stringify(journal.map((entry) => [entry.id, entry.status, entry.reason]))).toBe("CANCELLED")
      expect(journal.map((entry) => entry.id)).toEqual([0, 1, 2])
      expect(journal.map((entry) => entry.source)).toEqual([undefined, "replay:01-slow", "replay:02-line"])
      expect(journal[1]!.status).not.toBe("crash")
      expect(fs.readFileSync(path.join(repo.stateDir("killed"), "runs", "1", "train.log"), "utf8")).toContain("slow")
      expect(ourJobs()).toEqual([])
    } finally {
      repo.cleanup()
    }
  }, 400_000)

  it("runs two workers' experiments as two Slurm jobs at once", async () => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
    const repo = makeToyRepo()
    try {
      for (const [name, degree] of [["01-slow-a", "5"], ["02-slow-b", "1"]] as const) {
        writeCandidate(repo, name, name, { "train.py": toyTrain({ DEGREE: degree }, "\nimport time\ntime.sleep(8)\n") })
      }
      const args = [cliBin, "run", "research", "--runner", "slurm", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "pool", "--workers", "2", "--verify-seeds", "0"]
      const run = spawn(process.execPath, args, { cwd: repo.root, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] })
      let stdout = ""
      run.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => run.on("exit", resolve))
      let most = 0
      let done = false
      void exited.then(() => (done = true))
      while (!done) {
        most = Math.max(most, ourJobs().filter((line) => line.endsWith("-train")).length)
        await sleep(250)
      }
      expect(await exited, plain(stdout)).toBe(0)
      expect(most).toBe(2)
      const journal = readJournal(repo, "pool")
      expect(journal.map((entry) => entry.id).sort()).toEqual([0, 1, 2])
      expect(journal.map((entry) => entry.source).sort()).toEqual(["replay:01-slow-a", "replay:02-slow-b", undefined])
      expect(ourJobs()).toEqual([])
    } finally {
      repo.cleanup()
    }
  }, 300_000)

  const { imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
  it.skipIf(!hasTorch)(hasTorch ? "runs examples/lwir-sr's CPU smoke task, sandboxed on the node: the baseline beats bicubic" : "SKIPPED: no python with torch, numpy and PIL", () => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
    const base = fs.realpathSync(fs.mkdtempSync(path.join("/var/tmp", "slurm-lwir-sr-")))
    try {
      const research = path.join(base, "lwir-sr")
      fs.mkdirSync(research)
      for (const file of fs.readdirSync(path.join(repoRoot, "examples", "lwir-sr"))) {
        const from = path.join(repoRoot, "examples", "lwir-sr", file)
        if (fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(research, file))
      }
      // The noise floor is lwir-sr's own test to check; here a fixed keep threshold stands in for it.
      const config = path.join(research, "autoresearch.config.ts")
      const text = fs.readFileSync(config, "utf8")
      const patched = text.replace("noiseRuns: 3, verifySeeds: 1 }", "noiseRuns: 0, verifySeeds: 0 }").replace('minDelta: "auto"', "minDelta: 0.02")
      if (!patched.includes("noiseRuns: 0") || !patched.includes("minDelta: 0.02")) throw new Error("lwir-sr's smoke budget changed: update this test")
      fs.writeFileSync(config, patched)
      git(base, "init", "-q", "-b", "main")
      git(base, "add", "-A")
      git(base, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "lwir-sr")
      const stdout = plain(execFileSync(process.execPath, [cliBin, "run", "lwir-sr", "--runner", "slurm", "--proposer", "knob", "--max-experiments", "2", "--budget", "10"], {
        cwd: base,
        env: { ...cliEnv(), LWIR_SMOKE: "1" },
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        timeout: 600_000
      }))
      expect(stdout).toContain("finished")
      const journal = fs.readFileSync(path.join(base, ".autoresearch", "lwir-sr", "journal.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      expect(journal).toHaveLength(2)
      const baseline = journal[0]
      expect(baseline.status).toBe("keep")
      expect(baseline.metrics.val_psnr).toBeGreaterThan(baseline.metrics.bicubic_psnr)
      const runs = path.join(base, ".autoresearch", "lwir-sr", "runs")
      for (const phase of ["train", "predict"]) expect(fs.existsSync(path.join(runs, ".slurm", "0", `${phase}.result.json`)), phase).toBe(true)
      expect(fs.readFileSync(path.join(runs, "0", "train.log"), "utf8")).toContain("steps_per_second")
      // The phase ran in the bubblewrap sandbox on the node, as it does locally: no warning says otherwise.
      expect(JSON.stringify(baseline.warnings ?? [])).not.toMatch(/unsandboxed/i)
      expect(ourJobs()).toEqual([])
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  }, 600_000)
})
