/**
 * Test fixtures: a throwaway git repository holding a copy of examples/toy, and
 * helpers to write replay candidates and to read the research run's git state.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"

export const repoRoot = path.resolve(import.meta.dirname, "../../..")
export const toyDir = path.join(repoRoot, "examples/toy")
export const cliBin = path.join(repoRoot, "packages/cli/dist/bin.js")

export const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

export interface ToyRepo {
  readonly root: string
  /** The research directory inside the repository. */
  readonly research: string
  readonly candidates: string
  readonly stateDir: (tag: string) => string
  readonly cleanup: () => void
}

/**
 * A new git repository with examples/toy committed under `research/`; candidates live
 * outside it. The run-end `verify` is off (`verifySeeds: 0`) unless `verify` is set.
 */
export const makeToyRepo = (options: { readonly configPatch?: (text: string) => string; readonly verify?: boolean } = {}): ToyRepo => {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-test-")))
  const root = path.join(base, "repo")
  const research = path.join(root, "research")
  fs.mkdirSync(research, { recursive: true })
  for (const file of ["prepare.py", "train.py", "program.md", "autoresearch.config.ts"]) {
    fs.copyFileSync(path.join(toyDir, file), path.join(research, file))
  }
  const config = path.join(research, "autoresearch.config.ts")
  let text = fs.readFileSync(config, "utf8")
  if (options.verify !== true) {
    const patched = text.replace("maxExperiments: 5 }", "maxExperiments: 5, verifySeeds: 0 }")
    if (patched === text) throw new Error("the toy config's budget changed: update the fixture that turns verify off")
    text = patched
  }
  fs.writeFileSync(config, options.configPatch ? options.configPatch(text) : text)
  git(root, "init", "-q", "-b", "main")
  git(root, "add", "-A")
  git(root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "research directory")
  const candidates = path.join(base, "candidates")
  fs.mkdirSync(candidates)
  return {
    root,
    research,
    candidates,
    stateDir: (tag) => path.join(root, ".autoresearch", tag),
    cleanup: () => fs.rmSync(base, { recursive: true, force: true })
  }
}

/** The toy's train.py with its constants replaced, e.g. `{ DEGREE: "5" }`. */
export const toyTrain = (constants: Readonly<Record<string, string>> = {}, append = ""): string => {
  let text = fs.readFileSync(path.join(toyDir, "train.py"), "utf8")
  for (const [name, value] of Object.entries(constants)) {
    text = text.replace(new RegExp(`^${name} = [^ #\\n]+`, "m"), `${name} = ${value}`)
  }
  return text + append
}

/** Writes a replay candidate: a folder with DESCRIPTION and the given files. */
export const writeCandidate = (repo: ToyRepo, name: string, description: string, files: Readonly<Record<string, string>>) => {
  const dir = path.join(repo.candidates, name)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "DESCRIPTION"), description + "\n")
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content)
}

export const readJournal = (repo: ToyRepo, tag: string): Array<Record<string, any>> => {
  const file = path.join(repo.stateDir(tag), "journal.jsonl")
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line))
}

export const branchHead = (repo: ToyRepo, tag: string) => git(repo.root, "rev-parse", `refs/heads/autoresearch/${tag}`)
export const discardedRef = (repo: ToyRepo, tag: string, id: number) =>
  git(repo.root, "for-each-ref", "--format=%(objectname)", `refs/autoresearch/${tag}/discarded/${id}`)
export const worktreeStatus = (repo: ToyRepo, tag: string) => git(path.join(repo.stateDir(tag), "worktree"), "status", "--porcelain")

/** Strips ANSI colour codes, which nx and terminals add. */
export const plain = (text: string) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")

/** A maker of toy repositories for one test file: each is removed after the test that made it. */
export const toyRepos = () => {
  const made: Array<ToyRepo> = []
  afterEach(() => {
    for (const repo of made.splice(0)) repo.cleanup()
  })
  return () => {
    const repo = makeToyRepo()
    made.push(repo)
    return repo
  }
}
