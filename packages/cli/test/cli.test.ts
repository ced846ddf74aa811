/**
 * End-to-end tests of the `autoresearch` executable: each test drives the built CLI
 * (packages/cli/dist/bin.js) as a subprocess on a throwaway git repository holding a
 * copy of examples/toy, and checks its output, exit code, journal and git state.
 */
import { spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  branchHead,
  cliBin,
  discardedRef,
  git,
  makeToyRepo,
  plain,
  readJournal,
  type ToyRepo,
  toyDir,
  toyTrain,
  worktreeStatus,
  writeCandidate
} from "./fixtures.ts"

// ---------------------------------------------------------------------------
// Helpers

const cliEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  return env
}

interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

interface Started {
  readonly child: ChildProcess
  /** Everything written to stdout so far (ANSI stripped). */
  readonly stdout: () => string
  readonly done: Promise<CliResult>
}

/** Starts the CLI; `done` settles when it exits (killed after `timeoutMs`, as a safety net). */
const startCli = (args: ReadonlyArray<string>, cwd: string, timeoutMs = 60_000): Started => {
  const child = spawn(process.execPath, [cliBin, ...args], { cwd, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: plain(stdout), stderr: plain(stderr) })
    })
  })
  return { child, stdout: () => plain(stdout), done }
}

const cli = (args: ReadonlyArray<string>, cwd: string, timeoutMs?: number) => startCli(args, cwd, timeoutMs).done

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `condition` holds; fails the test after `timeoutMs`. */
const waitFor = async (what: string, condition: () => boolean, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** The experiments table of `run`/`status` output: from its header to the `best:` line. */
const tableOf = (stdout: string) => {
  const lines = stdout.split("\n")
  const start = lines.findIndex((line) => /^id\s+commit\s+status\s+val_mse\s+vs best\s+gain\/MAD\s+time\s+description$/.test(line))
  const end = lines.findIndex((line, index) => index > start && line.startsWith("best:"))
  expect(start, `no table in:\n${stdout}`).toBeGreaterThanOrEqual(0)
  expect(end, `no best: line in:\n${stdout}`).toBeGreaterThan(start)
  return lines.slice(start, end + 1)
}

/** The ids of the table's rows, in order. */
const tableIds = (table: ReadonlyArray<string>) =>
  table.slice(1).filter((line) => /^\d+\s/.test(line)).map((line) => Number(line.split(/\s+/)[0]))

const autoresearchBranches = (root: string) => git(root, "branch", "--list", "autoresearch/*")
const autoresearchRefs = (root: string) => git(root, "for-each-ref", "refs/autoresearch")
const isAncestor = (root: string, commit: string, of: string) => {
  try {
    git(root, "merge-base", "--is-ancestor", commit, of)
    return true
  } catch {
    return false
  }
}

const readResultsRows = (repo: ToyRepo, tag: string) => {
  const lines = fs.readFileSync(path.join(repo.stateDir(tag), "results.tsv"), "utf8").split("\n").filter(Boolean)
  expect(lines[0]!.split("\t")).toEqual(["commit", "val_mse", "mean_mse", "memory_gb", "status", "description"])
  return lines.slice(1).map((line) => line.split("\t"))
}

const ids = (journal: ReadonlyArray<Record<string, any>>) => journal.map((entry) => entry.id as number)

/**
 * A gate for a candidate's train.py: appended to it, training waits (at most 30 s) until
 * a file `open` appears in its run directory, so that a test can act while an experiment
 * is surely running. The file lives in the run directory because a sandboxed phase sees
 * nothing else the test could write. Once opened, the gate stays open: the file is
 * written again whenever the run directory is made anew (an experiment run again).
 */
interface Gate {
  readonly python: string
  readonly open: () => void
  readonly close: () => void
}
let gates: Array<Gate> = []
const makeGate = (runDir: string): Gate => {
  const file = path.join(runDir, "open")
  let timer: NodeJS.Timeout | undefined
  const gate: Gate = {
    python: [
      "",
      "_gate_started = time.time()",
      "_gate = os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'open')",
      "while not os.path.exists(_gate) and time.time() - _gate_started < 30:",
      "    time.sleep(0.02)",
      ""
    ].join("\n"),
    open: () => {
      timer ??= setInterval(() => {
        if (fs.existsSync(runDir) && !fs.existsSync(file)) fs.writeFileSync(file, "")
      }, 20)
    },
    close: () => clearInterval(timer)
  }
  gates.push(gate)
  return gate
}

let repos: Array<ToyRepo> = []
let extraDirs: Array<string> = []
let children: Array<ChildProcess> = []
const toyRepo = (options?: Parameters<typeof makeToyRepo>[0]) => {
  const repo = makeToyRepo(options)
  repos.push(repo)
  return repo
}
const track = (started: Started) => {
  children.push(started.child)
  return started
}

afterEach(async () => {
  // Open every gate first, so that no training left behind by a killed CLI waits on.
  if (gates.length > 0) {
    for (const gate of gates) gate.open()
    await sleep(100)
    for (const gate of gates) gate.close()
    gates = []
  }
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  children = []
  for (const repo of repos) repo.cleanup()
  repos = []
  for (const dir of extraDirs) fs.rmSync(dir, { recursive: true, force: true })
  extraDirs = []
})

// ---------------------------------------------------------------------------
// 1. Help

describe("autoresearch --help", () => {
  it("prints the root command's help with its subcommands", async () => {
    const result = await cli(["--help"], os.tmpdir())
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("USAGE")
    expect(result.stdout).toMatch(/^\s+run\s+Run \(or resume\) the research loop/m)
    expect(result.stdout).toMatch(/^\s+status\s+Print the experiments of a research run/m)
  })

  it("prints run's help with all its flags", async () => {
    const result = await cli(["run", "--help"], os.tmpdir())
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("autoresearch run [flags] <dir>")
    for (const flag of ["--tag", "--proposer", "--replay-dir", "--max-experiments", "--budget", "--threads", "--fresh"]) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${flag} `, "m"))
    }
    expect(result.stdout).toContain("choices: auto, claude, openai, knob, replay")
  })

  it("prints status's help with --tag", async () => {
    const result = await cli(["status", "--help"], os.tmpdir())
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("autoresearch status [flags] <dir>")
    expect(result.stdout).toMatch(/^\s+--tag string/m)
    expect(result.stdout).not.toMatch(/^\s+--max-experiments/m)
  })
})

// ---------------------------------------------------------------------------
// 2. Clear errors, and nothing half-written

describe("autoresearch run: a failing baseline", () => {
  it("stops with the reason and where the log is, and a resume on the same tag refuses to search", async () => {
    const repo = toyRepo()
    fs.writeFileSync(path.join(repo.research, "train.py"), "import sys\nprint('cannot train')\nsys.exit(3)\n")
    git(repo.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qam", "broken train.py")
    writeCandidate(repo, "01", "a fix", { "train.py": toyTrain() })
    const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", "broken"]
    const first = await cli(args, repo.root)
    expect(first.code).toBe(1)
    const lines = first.stderr.split("\n").filter((line) => line.trim() !== "")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^autoresearch: error: the baseline \(experiment 0\) failed: train failed \(exit code 3\); log: .*runs\/0\/train\.log\. Fix train\.py, commit, and start a new run with another --tag$/)
    const second = await cli(args, repo.root)
    expect(second.code).toBe(1)
    expect(second.stderr).toMatch(/the baseline \(experiment 0\) of this research run failed \(train failed \(exit code 3\)\)/)
    expect(readJournal(repo, "broken").map((entry) => entry.status)).toEqual(["crash"])
  })
})

describe("autoresearch run: errors", () => {
  /** Asserts one `autoresearch: error:` line on stderr, exit 1, and no state left in `root`. */
  const expectCleanError = (result: CliResult, root: string, pattern: RegExp) => {
    expect(result.code, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(1)
    const lines = result.stderr.split("\n").filter((line) => line.trim() !== "")
    expect(lines, result.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(/^autoresearch: error: /)
    expect(lines[0]).toMatch(pattern)
    expect(fs.existsSync(path.join(root, ".autoresearch"))).toBe(false)
    if (fs.existsSync(path.join(root, ".git"))) {
      expect(autoresearchBranches(root)).toBe("")
      expect(autoresearchRefs(root)).toBe("")
      expect(git(root, "worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(1)
    }
  }
  const replayArgs = (repo: ToyRepo) => ["--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "t"]

  it("a missing research directory", async () => {
    const repo = toyRepo()
    const result = await cli(["run", "does-not-exist", ...replayArgs(repo)], repo.root)
    expectCleanError(result, repo.root, /research directory not found: .*does-not-exist$/)
  })

  it("a directory without autoresearch.config.ts", async () => {
    const repo = toyRepo()
    fs.mkdirSync(path.join(repo.root, "empty"))
    fs.writeFileSync(path.join(repo.root, "empty", "train.py"), "print(1)\n")
    const result = await cli(["run", "empty", ...replayArgs(repo)], repo.root)
    expectCleanError(result, repo.root, /no autoresearch\.config\.ts in .*empty$/)
  })

  it("an invalid config names the field", async () => {
    const repo = toyRepo({ configPatch: (text) => text.replace(`direction: "min"`, `direction: "up"`) })
    expect(fs.readFileSync(path.join(repo.research, "autoresearch.config.ts"), "utf8")).toContain(`direction: "up"`)
    expect(git(repo.root, "status", "--porcelain")).toBe("")
    const result = await cli(["run", "research", ...replayArgs(repo)], repo.root)
    expectCleanError(result, repo.root, /invalid research config .*autoresearch\.config\.ts.*metric\.direction/)
  })

  it("a directory outside any git repository", async () => {
    const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-nogit-")))
    extraDirs.push(dir)
    const research = path.join(dir, "research")
    fs.mkdirSync(research)
    for (const file of ["prepare.py", "train.py", "program.md", "autoresearch.config.ts"]) {
      fs.copyFileSync(path.join(toyDir, file), path.join(research, file))
    }
    fs.mkdirSync(path.join(dir, "candidates"))
    const result = await cli(["run", "research", "--replay-dir", path.join(dir, "candidates"), "--tag", "t"], dir)
    expectCleanError(result, dir, /research is not inside a git repository \(run `git init`/)
    expect(fs.readdirSync(dir).sort()).toEqual(["candidates", "research"])
  })

  it("an immutable file modified but not committed: the message names its full path", async () => {
    const repo = toyRepo()
    fs.appendFileSync(path.join(repo.research, "prepare.py"), "\n# changed\n")
    const result = await cli(["run", "research", ...replayArgs(repo)], repo.root)
    expectCleanError(result, repo.root, /immutable files have uncommitted changes: .*prepare\.py/)
    expect(result.stderr).toMatch(/uncommitted changes: research\/prepare\.py /)
  })

  it("python not found", async () => {
    const repo = toyRepo({ configPatch: (text) => text.replace(`name: "toy",`, `name: "toy",\n  python: "python-does-not-exist",`) })
    expect(git(repo.root, "status", "--porcelain")).toBe("")
    const result = await cli(["run", "research", ...replayArgs(repo)], repo.root)
    expectCleanError(result, repo.root, /python not found: 'python-does-not-exist'/)
  })

  it("status of a research run that does not exist yet", async () => {
    const repo = toyRepo()
    const result = await cli(["status", "research", "--tag", "nope"], repo.root)
    expectCleanError(result, repo.root, /no research run 'nope' yet/)
  })

  it("a usage error exits with code 2", async () => {
    const repo = toyRepo()
    const result = await cli(["run", "research", "--max-experiments", "abc"], repo.root)
    expect(result.stderr).toContain("Invalid value for flag --max-experiments")
    expect(result.code).toBe(2)
  })
})

describe("autoresearch run --threads", () => {
  it("gives every phase its share of the cores through AUTORESEARCH_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS", async () => {
    const repo = toyRepo()
    const report = `\nprint("threads:", *(os.environ.get(name) for name in ("AUTORESEARCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")))\n`
    writeCandidate(repo, "01-threads", "prints its threads", { "train.py": toyTrain({}, report) })
    const result = await cli(["run", "research", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "threads", "--max-experiments", "2", "--threads", "3"], repo.root)
    expect(result.code, result.stderr).toBe(0)
    const log = fs.readFileSync(path.join(repo.stateDir("threads"), "runs", "1", "train.log"), "utf8")
    expect(log).toContain("threads: 3 3 3")
  })
})

// ---------------------------------------------------------------------------
// 3. A full run, status, and resuming

describe("autoresearch run: a full run with replay candidates", () => {
  it("keeps, discards and records crashes; status shows the same; a resume runs nothing new", async () => {
    // The config allows 20 experiments, so only --max-experiments can stop at 5.
    const repo = toyRepo({ configPatch: (text) => text.replace("maxExperiments: 5", "maxExperiments: 20") })
    writeCandidate(repo, "01-lr", "learning rate 0.1", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }) }) // keep
    writeCandidate(repo, "02-line", "a line", { "train.py": toyTrain({ DEGREE: "1" }) }) // discard
    writeCandidate(repo, "03-crash", "crashes", { "train.py": toyTrain({}, "\nraise RuntimeError('boom')\n") }) // crash
    writeCandidate(repo, "04-lr", "learning rate 0.2", { "train.py": toyTrain({ LEARNING_RATE: "0.2" }) }) // keep
    writeCandidate(repo, "05-more", "degree 5, lr 0.2, 400 steps", {
      "train.py": toyTrain({ DEGREE: "5", LEARNING_RATE: "0.2", STEPS: "400" })
    })
    const tag = "full"
    const args = ["run", "research", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", tag]

    const mainHead = git(repo.root, "rev-parse", "HEAD")
    const first = await cli([...args, "--max-experiments", "5"], repo.root)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toBe("")
    expect(first.stdout).toContain("on branch autoresearch/full")
    expect(first.stdout).toContain("finished: reached max experiments (5)")
    expect(first.stdout).toMatch(/^#3 crash: .*RuntimeError: boom/m)
    const table = tableOf(first.stdout)
    expect(tableIds(table)).toEqual([0, 1, 2, 3, 4])
    expect(first.stdout).toMatch(/^best: #4 val_mse 0\.\d{4} \(lower is better\) at [0-9a-f]{7}: learning rate 0\.2$/m)

    const journal = readJournal(repo, tag)
    expect(ids(journal)).toEqual([0, 1, 2, 3, 4])
    expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard", "crash", "keep"])
    expect(journal.map((entry) => entry.source)).toEqual([undefined, "replay:01-lr", "replay:02-line", "replay:03-crash", "replay:04-lr"])
    expect(journal[1]!.metrics.val_mse).toBeLessThan(journal[0]!.metrics.val_mse)
    expect(journal[4]!.metrics.val_mse).toBeLessThan(journal[1]!.metrics.val_mse)
    expect(new Set(journal.map((entry) => entry.commit)).size).toBe(5)
    for (const [index, entry] of journal.entries()) {
      expect(table[index + 1]).toMatch(new RegExp(`^${entry.id}\\s+${entry.commit.slice(0, 7)}\\s+${entry.status}\\s`))
    }

    // The ratchet: the branch is on the last keep, and the kept commits form its history.
    const head = branchHead(repo, tag)
    expect(head).toBe(journal[4]!.commit)
    expect(git(repo.root, "rev-list", "--first-parent", head).split("\n").slice(0, 3)).toEqual([
      journal[4]!.commit,
      journal[1]!.commit,
      journal[0]!.commit
    ])
    expect(discardedRef(repo, tag, 2)).toBe(journal[2]!.commit)
    expect(discardedRef(repo, tag, 3)).toBe(journal[3]!.commit)
    expect(isAncestor(repo.root, journal[2]!.commit, head)).toBe(false)
    expect(isAncestor(repo.root, journal[3]!.commit, head)).toBe(false)
    expect(worktreeStatus(repo, tag)).toBe("")
    expect(fs.readFileSync(path.join(repo.stateDir(tag), "worktree", "research", "train.py"), "utf8")).toBe(
      toyTrain({ LEARNING_RATE: "0.2" })
    )
    // The user's checkout is untouched.
    expect(git(repo.root, "status", "--porcelain", "--untracked-files=no")).toBe("")
    expect(git(repo.root, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main")
    expect(git(repo.root, "rev-parse", "HEAD")).toBe(mainHead)
    expect(fs.existsSync(path.join(repo.stateDir(tag), "lock"))).toBe(false)
    expect(readResultsRows(repo, tag).map((row) => row[4])).toEqual(["keep", "keep", "discard", "crash", "keep"])

    // status prints the same table.
    const status = await cli(["status", "research", "--tag", tag], repo.root)
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout.split("\n")[0]).toBe("autoresearch/full: 5 experiments")
    expect(tableOf(status.stdout)).toEqual(table)

    // Resuming with the maximum reached runs nothing.
    const journalText = fs.readFileSync(path.join(repo.stateDir(tag), "journal.jsonl"), "utf8")
    const again = await cli([...args, "--max-experiments", "5"], repo.root)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain("finished: reached max experiments (5)")
    expect(again.stdout).not.toMatch(/^#\d+ /m)
    expect(tableOf(again.stdout)).toEqual(table)
    expect(fs.readFileSync(path.join(repo.stateDir(tag), "journal.jsonl"), "utf8")).toBe(journalText)
    expect(branchHead(repo, tag)).toBe(head)

    // A larger maximum goes on with the next candidate only.
    const more = await cli([...args, "--max-experiments", "6"], repo.root)
    expect(more.code, more.stderr).toBe(0)
    expect(more.stdout).toMatch(/^#5 degree 5, lr 0\.2, 400 steps$/m)
    expect(more.stdout).not.toMatch(/^#[0-4] /m)
    const resumed = readJournal(repo, tag)
    expect(ids(resumed)).toEqual([0, 1, 2, 3, 4, 5])
    expect(resumed[5]!.source).toBe("replay:05-more")
    expect(resumed[5]!.parent).toBe(head)
    expect(fs.readFileSync(path.join(repo.stateDir(tag), "journal.jsonl"), "utf8").startsWith(journalText)).toBe(true)
    expect(branchHead(repo, tag)).toBe(resumed[5]!.status === "keep" ? resumed[5]!.commit : head)
    expect(worktreeStatus(repo, tag)).toBe("")
  })
})

describe("autoresearch run: two research runs in one repository", () => {
  it("each run keeps a ref to its own discarded commits", async () => {
    const repo = toyRepo()
    const line = toyTrain({ DEGREE: "1" })
    writeCandidate(repo, "a/01", "a line (run a)", { "train.py": line })
    writeCandidate(repo, "b/01", "a line (run b)", { "train.py": line })
    const runs: Record<string, string> = {}
    for (const tag of ["a", "b"]) {
      const result = await cli(
        ["run", "research", "--replay-dir", path.join(repo.candidates, tag), "--tag", tag, "--max-experiments", "2"],
        repo.root
      )
      expect(result.code, result.stderr).toBe(0)
      const journal = readJournal(repo, tag)
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "discard"])
      runs[tag] = journal[1]!.commit
    }
    expect(runs.a).not.toBe(runs.b)
    for (const tag of ["a", "b"]) {
      expect(git(repo.root, "for-each-ref", "--points-at", runs[tag]!, "refs/autoresearch"), `run ${tag}`).not.toBe("")
    }
  })
})

// ---------------------------------------------------------------------------
// 4. Resume after SIGKILL

describe("autoresearch run: resume after SIGKILL", () => {
  it("a run killed mid-experiment resumes with each experiment recorded once", async () => {
    const repo = toyRepo()
    const gate = makeGate(path.join(repo.stateDir("killed"), "runs", "2"))
    writeCandidate(repo, "01", "learning rate 0.1", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }) }) // keep
    writeCandidate(repo, "02", "a line", { "train.py": toyTrain({ DEGREE: "1" }, gate.python) }) // discard
    writeCandidate(repo, "03", "learning rate 0.2", { "train.py": toyTrain({ LEARNING_RATE: "0.2" }) }) // keep
    const tag = "killed"
    const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", tag, "--max-experiments", "4"]
    const trainLog = path.join(repo.stateDir(tag), "runs", "2", "train.log")

    const first = track(startCli(args, repo.root))
    await waitFor("experiment 2's train phase", () => fs.existsSync(trainLog) || first.child.exitCode !== null)
    expect(first.child.exitCode).toBe(null)
    await waitFor("the line '#2 a line'", () => /^#2 a line$/m.test(first.stdout()), 5_000)
    process.kill(first.child.pid!, "SIGKILL")
    const killed = await first.done
    expect(killed.signal).toBe("SIGKILL")
    // Unsandboxed, the killed CLI's training goes on; let it end. The rerun of #2 passes the gate too.
    gate.open()

    // What the killed process left: two experiments, the cut-short #2 committed on the branch, a stale lock.
    const before = readJournal(repo, tag)
    expect(ids(before)).toEqual([0, 1])
    const lockFile = path.join(repo.stateDir(tag), "lock")
    expect(JSON.parse(fs.readFileSync(lockFile, "utf8")).pid).toBe(first.child.pid)
    const cutShort = branchHead(repo, tag)
    expect(cutShort).not.toBe(before[1]!.commit)
    expect(git(repo.root, "log", "-1", "--format=%s", cutShort)).toBe("autoresearch #2: a line")

    const second = await cli(args, repo.root)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toBe("")
    expect(second.stdout).toContain("data cache")
    expect(second.stdout).toContain("(reused)")
    expect(second.stdout).toContain("finished: reached max experiments (4)")
    expect(second.stdout).not.toMatch(/^#[01] /m)

    const journal = readJournal(repo, tag)
    expect(ids(journal)).toEqual([0, 1, 2, 3])
    expect(journal.map((entry) => entry.source)).toEqual([undefined, "replay:01", "replay:02", "replay:03"])
    expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard", "keep"])
    expect(journal[2]!.parent).toBe(journal[1]!.commit)
    expect(readResultsRows(repo, tag)).toHaveLength(journal.length)
    expect(tableIds(tableOf(second.stdout))).toEqual([0, 1, 2, 3])

    const head = branchHead(repo, tag)
    const kept = journal.filter((entry) => entry.status === "keep")
    expect(head).toBe(kept.at(-1)!.commit)
    for (const entry of kept) expect(isAncestor(repo.root, entry.commit, head), `#${entry.id}`).toBe(true)
    expect(isAncestor(repo.root, cutShort, head)).toBe(false)
    expect(isAncestor(repo.root, journal[2]!.commit, head)).toBe(false)
    expect(discardedRef(repo, tag, 2)).toBe(journal[2]!.commit)
    expect(worktreeStatus(repo, tag)).toBe("")
    expect(fs.existsSync(lockFile)).toBe(false)
  })
})

// ---------------------------------------------------------------------------
// 5. One process per tag

describe("autoresearch run: the lock", () => {
  it("a second process on the same tag is refused while the first runs", async () => {
    const repo = toyRepo()
    const gate = makeGate(path.join(repo.stateDir("research"), "runs", "1"))
    writeCandidate(repo, "01", "gated", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }, gate.python) })
    // No --tag: both use the default tag, the directory's name.
    const args = ["run", "research", "--replay-dir", repo.candidates, "--max-experiments", "2"]
    const lockFile = path.join(repo.stateDir("research"), "lock")
    const trainLog = path.join(repo.stateDir("research"), "runs", "1", "train.log")

    const first = track(startCli(args, repo.root))
    await waitFor("experiment 1's train phase", () => fs.existsSync(trainLog) || first.child.exitCode !== null)
    expect(first.child.exitCode).toBe(null)
    expect(JSON.parse(fs.readFileSync(lockFile, "utf8")).pid).toBe(first.child.pid)

    const second = await cli(args, repo.root)
    expect(second.code).toBe(1)
    const lines = second.stderr.split("\n").filter((line) => line.trim() !== "")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toBe(`autoresearch: error: another autoresearch process (pid ${first.child.pid}) is running tag research`)
    expect(second.stdout).not.toMatch(/^#\d+ /m)
    // The refused process left the lock and the run alone.
    expect(first.child.exitCode).toBe(null)
    expect(JSON.parse(fs.readFileSync(lockFile, "utf8")).pid).toBe(first.child.pid)

    gate.open()
    const result = await first.done
    expect(result.code, result.stderr).toBe(0)
    const journal = readJournal(repo, "research")
    expect(ids(journal)).toEqual([0, 1])
    expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep"])
    expect(branchHead(repo, "research")).toBe(journal[1]!.commit)
    expect(fs.existsSync(lockFile)).toBe(false)
    expect(worktreeStatus(repo, "research")).toBe("")
  })
})
