/**
 * The Ratchet over git (simple-git). The research runs in its own worktree on branch
 * `autoresearch/<tag>`, so the user's checkout and uncommitted work are never touched.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { simpleGit, type SimpleGit } from "simple-git"
import type { MetricSpec } from "./Config.ts"
import { keepRule } from "./KeepRule.ts"
import { GitError, Ratchet } from "./Ratchet.ts"

const identity = ["-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost", "-c", "commit.gpgsign=false"]

/** Where a research run keeps the commits it set aside, e.g. `refs/autoresearch/<tag>/discarded/3`. */
export const refPrefix = (branch: string) => `refs/autoresearch/${branch.replace(/^autoresearch\//, "")}`

/** Runs git in `cwd`; output with trailing whitespace removed (leading spaces can matter, as in `status --porcelain`). */
export const git = (cwd: string | SimpleGit, args: ReadonlyArray<string>) =>
  Effect.tryPromise({
    try: () => (typeof cwd === "string" ? simpleGit(cwd) : cwd).raw([...args]),
    catch: (cause) => new GitError({ command: args.join(" "), reason: String((cause as Error).message ?? cause).trim() })
  }).pipe(Effect.map((out) => out.trimEnd()))

export interface WorktreeOptions {
  readonly repoRoot: string
  readonly worktree: string
  readonly branch: string
}

/** Creates the research branch and its worktree, or reattaches them on resume. */
export const ensureWorktree = Effect.fnUntraced(function*(options: WorktreeOptions) {
  const repo = simpleGit(options.repoRoot)
  yield* git(repo, ["worktree", "prune"])
  const branchHead = yield* git(repo, ["rev-parse", "--verify", "--quiet", `refs/heads/${options.branch}`]).pipe(
    Effect.orElseSucceed(() => "")
  )
  if (fs.existsSync(path.join(options.worktree, ".git"))) {
    const current = yield* git(simpleGit(options.worktree), ["rev-parse", "--abbrev-ref", "HEAD"])
    // Detached by a `verify` that was cut short: back onto the branch.
    if (current === "HEAD") return yield* git(simpleGit(options.worktree), ["checkout", "--force", "--quiet", options.branch, "--"])
    if (current !== options.branch) {
      return yield* new GitError({
        command: "worktree",
        reason: `${options.worktree} is on ${current}, expected ${options.branch}`
      })
    }
    return
  }
  fs.mkdirSync(path.dirname(options.worktree), { recursive: true })
  yield* branchHead === ""
    ? git(repo, ["worktree", "add", "-b", options.branch, options.worktree, "HEAD"])
    : git(repo, ["worktree", "add", options.worktree, options.branch])
})

export interface GitRatchetOptions {
  readonly worktree: string
  /** The research branch, e.g. `autoresearch/<tag>`; names the refs of set-aside commits. */
  readonly branch: string
  readonly metric: Pick<MetricSpec, "name" | "direction">
}

export const make = (options: GitRatchetOptions) => {
  const repo = simpleGit(options.worktree)
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
      yield* git(repo, ["update-ref", `${refPrefix(options.branch)}/${label}`, commit])
      yield* git(repo, ["reset", "--hard", "--quiet", parent])
      yield* git(repo, ["clean", "-fdxq"])
    })
  const discard = (id: number, commit: string, parent: string) => setAside(`discarded/${id}`, commit, parent)
  return Ratchet.of({
    head,
    restore,
    checkout,
    discard,
    setAside,
    commit: (message) =>
      Effect.gen(function*() {
        yield* git(repo, ["add", "--all"])
        yield* git(repo, [...identity, "commit", "--quiet", "--no-verify", "-m", message])
        return yield* head
      }),
    decide: (input) =>
      Effect.gen(function*() {
        const decision = keepRule(input.candidate, input.incumbent, { ...options.metric, minDelta: input.minDelta })
        if (decision.keep) yield* restore
        else yield* discard(input.id, input.commit, input.parent)
        return decision
      })
  })
}

export const layer = (options: GitRatchetOptions) => Layer.succeed(Ratchet, make(options))
