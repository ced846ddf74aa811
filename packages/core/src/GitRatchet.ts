/**
 * The Ratchet over git, run through Command. The research runs in its own worktree on branch
 * `autoresearch/<tag>`, so the user's checkout and uncommitted work are never touched.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Command from "./Command.ts"
import { GitError, Ratchet } from "./Ratchet.ts"

/** The committer of the research's commits, whatever the user's git config. */
export const identity = ["-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost", "-c", "commit.gpgsign=false"]

/** Where a research run keeps the commits it set aside, e.g. `refs/autoresearch/<tag>/discarded/3`. */
export const refPrefix = (branch: string) => `refs/autoresearch/${branch.replace(/^autoresearch\//, "")}`

/**
 * Runs git in `cwd`; output with trailing whitespace removed (leading spaces can matter, as
 * in `status --porcelain`). It fails when git exits non-zero and says why on stderr: a
 * silent non-zero exit (`rev-parse --verify --quiet` of a missing ref) answers empty.
 */
export const git = (cwd: string, args: ReadonlyArray<string>) =>
  gitOutput(cwd, args).pipe(Effect.map((output) => output.stdout.trimEnd()))

/** A file's bytes at a commit, exactly (no trimming). */
export const show = (cwd: string, commit: string, file: string) =>
  Effect.map(gitOutput(cwd, ["show", `${commit}:${file}`]), (output) => output.stdoutBytes)

const gitOutput = (cwd: string, args: ReadonlyArray<string>) =>
  Command.run("git", args, { cwd, timeoutMs: 0 }).pipe(
    Effect.mapError((error) => new GitError({ command: args.join(" "), reason: error.message })),
    Effect.flatMap((output) =>
      output.killed || output.signal !== null || (output.exitCode !== 0 && output.stderr.trim() !== "")
        ? Effect.fail(
          new GitError({
            command: args.join(" "),
            reason: `${output.stdout}${output.stderr}`.trim() || (output.killed ? "its output was too long" : `killed by ${output.signal}`)
          })
        )
        : Effect.succeed(output)
    )
  )

/**
 * Creates `ref` at `commit`, never moving a ref that exists: one that already names this
 * commit is left as it is (a step repeated after a crash), one that names another fails.
 */
export const createRef = (cwd: string, ref: string, commit: string) =>
  git(cwd, ["update-ref", ref, commit, ""]).pipe(
    Effect.catchTag("GitError", (error) =>
      Effect.gen(function*() {
        const existing = yield* git(cwd, ["rev-parse", "--verify", "--quiet", ref]).pipe(Effect.orElseSucceed(() => ""))
        if (existing === commit) return ""
        return yield* existing === ""
          ? error
          : new GitError({ command: `update-ref ${ref}`, reason: `refusing to overwrite it: it holds ${existing}, not ${commit}` })
      })),
    Effect.asVoid
  )

export interface WorktreeOptions {
  readonly repoRoot: string
  readonly worktree: string
  readonly branch: string
}

/** What the worktree's folder holds, as git left it. */
export type WorktreeState = "missing" | "ready" | "detached" | "half-made" | "elsewhere"

/**
 * The worktree's state from what is on disk: `half-made` when a `git worktree add` was
 * cut short (git's `locked` marker is still there, or git does not take the folder for
 * a worktree of its own), `detached` after a `verify` cut short, `elsewhere` on another branch.
 */
export const worktreeState = (facts: {
  readonly hasGitFile: boolean
  readonly locked: boolean
  /** `rev-parse --abbrev-ref HEAD` in the folder; undefined when git fails there. */
  readonly head: string | undefined
  /** `rev-parse --show-toplevel` in the folder. */
  readonly toplevel: string | undefined
  readonly worktree: string
  readonly branch: string
}): WorktreeState => {
  if (!facts.hasGitFile) return "missing"
  if (facts.locked || facts.head === undefined || facts.toplevel !== facts.worktree) return "half-made"
  if (facts.head === "HEAD") return "detached"
  return facts.head === facts.branch ? "ready" : "elsewhere"
}

/** The repository's common git directory, absolute. */
export const commonDir = (repoRoot: string) =>
  Effect.map(git(repoRoot, ["rev-parse", "--git-common-dir"]), (dir) => path.resolve(repoRoot, dir))

/** The worktree's own git directories (`.git/worktrees/<name>`): the one its `.git` file names, and any whose `gitdir` names it. */
export const worktreeGitDirs = (common: string, worktree: string): Array<string> => {
  const dirs = new Set<string>()
  try {
    const match = /^gitdir: (.+)$/m.exec(fs.readFileSync(path.join(worktree, ".git"), "utf8"))
    if (match) dirs.add(path.resolve(worktree, match[1]!.trim()))
  } catch {
    // no .git file
  }
  const admin = path.join(common, "worktrees")
  for (const name of fs.existsSync(admin) ? fs.readdirSync(admin) : []) {
    try {
      if (fs.readFileSync(path.join(admin, name, "gitdir"), "utf8").trim() === path.join(worktree, ".git")) dirs.add(path.join(admin, name))
    } catch {
      // an entry without gitdir is not known to be ours
    }
  }
  return [...dirs].filter((dir) => fs.existsSync(dir))
}

const gitOrUndefined = (cwd: string, args: ReadonlyArray<string>) =>
  git(cwd, args).pipe(Effect.orElseSucceed(() => undefined))

/**
 * Creates the research branch and its worktree, reattaches them on resume, and rebuilds
 * a worktree that an interrupted `git worktree add` left half-made (the folder holds
 * nothing of the research's: its state is beside it). Returns what it repaired, in words.
 */
export const ensureWorktree = Effect.fnUntraced(function*(options: WorktreeOptions) {
  const repo = options.repoRoot
  const common = yield* commonDir(options.repoRoot)
  const gitDirs = worktreeGitDirs(common, options.worktree)
  const hasGitFile = fs.existsSync(path.join(options.worktree, ".git"))
  const state = worktreeState({
    hasGitFile,
    locked: gitDirs.some((dir) => fs.existsSync(path.join(dir, "locked"))),
    head: hasGitFile ? yield* gitOrUndefined(options.worktree, ["rev-parse", "--abbrev-ref", "HEAD"]) : undefined,
    toplevel: hasGitFile ? yield* gitOrUndefined(options.worktree, ["rev-parse", "--show-toplevel"]) : undefined,
    worktree: options.worktree,
    branch: options.branch
  })
  if (state === "ready") return []
  // Detached by a `verify` that was cut short: back onto the branch.
  if (state === "detached") {
    yield* git(options.worktree, ["checkout", "--force", "--quiet", options.branch, "--"])
    return []
  }
  if (state === "elsewhere") {
    const current = yield* git(options.worktree, ["rev-parse", "--abbrev-ref", "HEAD"])
    return yield* new GitError({ command: "worktree", reason: `${options.worktree} is on ${current}, expected ${options.branch}` })
  }
  // Missing or half-made: unlock what git left (a locked entry is never pruned), clear the folder, and add it again.
  const repairs: Array<string> = []
  if (state === "half-made" || gitDirs.length > 0 || fs.existsSync(options.worktree)) {
    for (const dir of gitDirs) fs.rmSync(path.join(dir, "locked"), { force: true })
    fs.rmSync(options.worktree, { recursive: true, force: true })
    if (state === "half-made" || gitDirs.length > 0) {
      repairs.push(`rebuilt the worktree ${options.worktree}, which an interrupted \`git worktree add\` had left half-made`)
    }
  }
  yield* git(repo, ["worktree", "prune"])
  const branchHead = yield* gitOrUndefined(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${options.branch}`])
  fs.mkdirSync(path.dirname(options.worktree), { recursive: true })
  yield* branchHead === undefined || branchHead === ""
    ? git(repo, ["worktree", "add", "-b", options.branch, options.worktree, "HEAD"])
    : git(repo, ["worktree", "add", options.worktree, options.branch])
  return repairs
})

export interface GitRatchetOptions {
  readonly worktree: string
  /** The research branch, e.g. `autoresearch/<tag>`; names the refs of set-aside commits. */
  readonly branch: string
}

export const make = (options: GitRatchetOptions) => {
  const repo = options.worktree
  const head = git(repo, ["rev-parse", "HEAD"])
  const restore = Effect.gen(function*() {
    yield* git(repo, ["checkout", "--force", "--quiet", options.branch, "--"])
    yield* git(repo, ["reset", "--hard", "--quiet", "HEAD"])
    yield* git(repo, ["clean", "-fdxq"])
  })
  const checkout = (commit: string) =>
    Effect.gen(function*() {
      yield* git(repo, ["checkout", "--force", "--quiet", "--detach", commit, "--"])
      yield* git(repo, ["clean", "-fdxq"])
    })
  const setAside = (label: string, commit: string, parent: string) =>
    Effect.gen(function*() {
      yield* createRef(options.worktree, `${refPrefix(options.branch)}/${label}`, commit)
      yield* git(repo, ["reset", "--hard", "--quiet", parent])
      yield* git(repo, ["clean", "-fdxq"])
    })
  const discard = (id: number, commit: string, parent: string) => setAside(`discarded/${id}`, commit, parent)
  return Ratchet.of({
    head,
    restore,
    keep: restore,
    checkout,
    discard,
    setAside,
    commit: (message) =>
      Effect.gen(function*() {
        yield* git(repo, ["add", "--all"])
        yield* git(repo, [...identity, "commit", "--quiet", "--no-verify", "-m", message])
        return yield* head
      })
  })
}

export const layer = (options: GitRatchetOptions) => Layer.succeed(Ratchet, make(options))
