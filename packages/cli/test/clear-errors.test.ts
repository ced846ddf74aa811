/**
 * Errors a user met, each made clear: a missing file named as missing, a config syntax
 * error with its line, nonsensical numeric flags and a missing replay folder refused
 * before anything runs, and an empty `seal.json` (power loss) rebuilt where that is safe.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cliBin, git, makeToyRepo, plain, readJournal, type ToyRepo, toyTrain, writeCandidate } from "./fixtures.ts"

const cli = (args: ReadonlyArray<string>, cwd: string) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  const result = spawnSync(process.execPath, [cliBin, ...args], { cwd, env, encoding: "utf8", timeout: 120_000 })
  return { code: result.status, stdout: plain(result.stdout), stderr: plain(result.stderr) }
}

const commit = (repo: ToyRepo, message: string) => {
  git(repo.root, "add", "-A")
  git(repo.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", message)
}

let repos: Array<ToyRepo> = []
const toyRepo = (options?: Parameters<typeof makeToyRepo>[0]) => {
  const repo = makeToyRepo(options)
  repos.push(repo)
  return repo
}
afterEach(() => {
  for (const repo of repos) repo.cleanup()
  repos = []
})

/** One `autoresearch: error:` line matching `pattern`, exit 1, and no run state left behind. */
const expectRefused = (result: ReturnType<typeof cli>, repo: ToyRepo, pattern: RegExp) => {
  expect(result.code, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`).toBe(1)
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "")
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^autoresearch: error: /)
  expect(lines[0]).toMatch(pattern)
  expect(result.stdout).not.toMatch(/^#0 /m)
  expect(fs.existsSync(path.join(repo.root, ".autoresearch"))).toBe(false)
}

const replay = (repo: ToyRepo) => ["--replay-dir", repo.candidates, "--tag", "t"]

describe("autoresearch run: a file that does not exist", () => {
  it("program.md missing is named as missing, with its path, not as uncommitted", () => {
    const repo = toyRepo()
    fs.rmSync(path.join(repo.research, "program.md"))
    commit(repo, "no program")
    const result = cli(["run", "research", ...replay(repo)], repo.root)
    expectRefused(result, repo, /program\.md does not exist: .*research\/program\.md/)
    expect(result.stderr).not.toContain("not committed")
  })

  it("a mutable file that does not exist is named as missing, with its path", () => {
    const repo = toyRepo({ configPatch: (text) => text.replace(`mutable: ["train.py"]`, `mutable: ["train.py", "model.py"]`) })
    const result = cli(["run", "research", ...replay(repo)], repo.root)
    expectRefused(result, repo, /mutable file model\.py does not exist: .*research\/model\.py/)
    expect(result.stderr).not.toContain("not committed")
  })
})

describe("autoresearch run: a config with a syntax error", () => {
  it("names the file, the line and the column", () => {
    // Line 13 (`phases: {`) loses its comma-separated neighbour's comma.
    const repo = toyRepo({ configPatch: (text) => text.replace(`program: "program.md",`, `program: "program.md"`) })
    const lines = fs.readFileSync(path.join(repo.research, "autoresearch.config.ts"), "utf8").split("\n")
    const line = lines.findIndex((text) => text.trimStart().startsWith("phases:")) + 1
    const column = lines[line - 1]!.indexOf("phases") + 1
    const result = cli(["run", "research", ...replay(repo)], repo.root)
    expectRefused(result, repo, new RegExp(`research/autoresearch\\.config\\.ts:${line}:${column}: `))
  })
})

describe("autoresearch run: nonsensical numeric flags", () => {
  it.each([
    [["--max-experiments", "-1"], /--max-experiments must be 1 or more/],
    [["--max-experiments", "0"], /--max-experiments must be 1 or more/],
    [["--budget", "-5"], /--budget must be a positive number of seconds/],
    [["--threads", "0"], /--threads must be 1 or more/],
    [["--workers", "0"], /--workers must be 1 or more/],
    [["--verify-seeds", "-2"], /--verify-seeds must be 0 \(no verify\) or more/]
  ])("refuses %j", (flags, pattern) => {
    const repo = toyRepo()
    const result = cli(["run", "research", ...replay(repo), ...flags], repo.root)
    expectRefused(result, repo, pattern)
  })

  it("refuses noise --runs 1 and verify --seeds 0 before opening anything", () => {
    const repo = toyRepo()
    expectRefused(cli(["noise", "research", "--runs", "1"], repo.root), repo, /--runs must be 2 or more/)
    expectRefused(cli(["verify", "research", "--seeds", "0"], repo.root), repo, /--seeds must be 1 or more/)
  })
})

describe("autoresearch run: a missing --replay-dir", () => {
  it("is refused up front, before the baseline runs", () => {
    const repo = toyRepo()
    const missing = path.join(repo.candidates, "nope")
    const result = cli(["run", "research", "--replay-dir", missing, "--tag", "t"], repo.root)
    expectRefused(result, repo, new RegExp(`replay folder not found: ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`))
  })

  it("a file given as --replay-dir is refused too", () => {
    const repo = toyRepo()
    const file = path.join(repo.candidates, "file")
    fs.writeFileSync(file, "")
    expectRefused(cli(["run", "research", "--replay-dir", file, "--tag", "t"], repo.root), repo, /replay folder .* is not a directory/)
  })
})

// Where a rebuild is not safe, the refusal is tested on SealFile itself (packages/core/test/seal-file.test.ts).
describe("autoresearch run: an empty seal.json", () => {
  it("is rebuilt on resume when git shows the immutable files unchanged since the baseline", () => {
    const repo = toyRepo()
    writeCandidate(repo, "01", "learning rate 0.1", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }) })
    const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", "t"]
    const first = cli([...args, "--max-experiments", "1"], repo.root)
    expect(first.code, first.stderr).toBe(0)
    const sealFile = path.join(repo.stateDir("t"), "seal.json")
    const sealed = JSON.parse(fs.readFileSync(sealFile, "utf8"))
    fs.writeFileSync(sealFile, "")
    const second = cli([...args, "--max-experiments", "2"], repo.root)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toMatch(/^repaired: .*seal\.json is empty; rebuilt from the immutable files/m)
    expect(readJournal(repo, "t").map((entry) => entry.id)).toEqual([0, 1])
    expect(JSON.parse(fs.readFileSync(sealFile, "utf8"))).toEqual(sealed)
  })
})

describe("autoresearch run: a journal line cut short", () => {
  it("status and run say which line, and run keeps a copy of what it dropped", () => {
    const repo = toyRepo()
    writeCandidate(repo, "01", "learning rate 0.1", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }) })
    const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", "t"]
    expect(cli([...args, "--max-experiments", "1"], repo.root).code).toBe(0)
    const journal = path.join(repo.stateDir("t"), "journal.jsonl")
    const cut = '{"id":1,"parent":"abc'
    fs.appendFileSync(journal, cut)
    const status = cli(["status", "research", "--tag", "t"], repo.root)
    expect(status.stdout).toMatch(/^warning: .*journal\.jsonl line 2 was cut short by a crash; the next run drops it, and keeps a copy$/m)
    const second = cli([...args, "--max-experiments", "2"], repo.root)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toMatch(
      /^warning: .*journal\.jsonl line 2 was cut short \(21 bytes, a write interrupted by a crash\): dropped from the record, kept in .*journal\.jsonl\.dropped-2$/m
    )
    expect(fs.readFileSync(`${journal}.dropped-2`, "utf8")).toBe(cut)
    expect(readJournal(repo, "t").map((entry) => entry.id)).toEqual([0, 1])
  })
})
