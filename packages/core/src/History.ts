/**
 * A research run's history as git holds it, checked against its journal. The commits it
 * set aside (`refs/autoresearch/<tag>/...`) and the ratchet's commits on its branch say
 * that the tag has run before; a journal that is gone (`git clean -fdx` removes the state
 * folder, which is only excluded) must not let a new run start over on top of them and
 * overwrite its refs. Starting over is asked for (`--fresh`), and sets the old run aside.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { createRef, git, refPrefix } from "./GitRatchet.ts"

/** A ref under the tag's prefix and the commit it names. */
export interface TagRef {
  readonly ref: string
  readonly commit: string
}

export interface GitHistory {
  /** Refs under `refs/autoresearch/<tag>/`, except those of runs set aside by `--fresh`. */
  readonly refs: ReadonlyArray<TagRef>
  /** Ratchet commits (`autoresearch #N: ...`) on the branch that the user's HEAD does not hold. */
  readonly ratchetCommits: number
}

/** Where `--fresh` sets earlier runs aside, below the tag's refs and in its state folder. */
export const previousName = "previous"

/** Experiments in the journal: its complete lines (a line cut short by a crash is not one). */
export const journalLength = (stateDir: string): number => {
  let text: string
  try {
    text = fs.readFileSync(path.join(stateDir, "journal.jsonl"), "utf8")
  } catch {
    return 0
  }
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter((line) => line.trim() !== "").length
}

/** The tag's history in git. */
export const read = Effect.fnUntraced(function*(repoRoot: string, branch: string) {
  const prefix = refPrefix(branch)
  const listed = yield* git(repoRoot, ["for-each-ref", "--format=%(refname) %(objectname)", `${prefix}/`])
  const refs = listed.split("\n").filter((line) => line !== "").map((line) => {
    const [ref, commit] = line.split(" ")
    return { ref: ref!, commit: commit! }
  }).filter((entry) => !entry.ref.startsWith(`${prefix}/${previousName}/`))
  const exists = yield* git(repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${branch}`]).pipe(
    Effect.orElseSucceed(() => "")
  )
  const ratchetCommits = exists === ""
    ? 0
    : Number(yield* git(repoRoot, ["rev-list", "--count", "--grep=^autoresearch #", `HEAD..refs/heads/${branch}`]).pipe(
      Effect.orElseSucceed(() => "0")
    ))
  return { refs, ratchetCommits } satisfies GitHistory
})

/** Why a run with an empty journal must not start over on this history, or undefined when it may. */
export const lostJournal = (experiments: number, history: GitHistory, branch: string): string | undefined => {
  if (experiments > 0 || (history.refs.length === 0 && history.ratchetCommits === 0)) return undefined
  const found = [
    ...(history.refs.length === 0 ? [] : [`${history.refs.length} set-aside commit${history.refs.length === 1 ? "" : "s"} under ${refPrefix(branch)}/`]),
    ...(history.ratchetCommits === 0 ? [] : [`${history.ratchetCommits} ratchet commit${history.ratchetCommits === 1 ? "" : "s"} on ${branch}`])
  ]
  return `the journal of ${branch} is missing or empty, but git holds its history: ${found.join(" and ")}`
}

/**
 * Refs of experiments the journal does not hold (`discarded/<id>` with an id at or past
 * its length): a run killed after setting one aside and before recording it. Each moves
 * to `interrupted/<id>-<commit>`, so that the experiment can run again without a clash.
 */
export const strayDiscards = (experiments: number, refs: ReadonlyArray<TagRef>, branch: string) => {
  const prefix = `${refPrefix(branch)}/discarded/`
  return refs.flatMap((entry) => {
    const id = entry.ref.startsWith(prefix) ? entry.ref.slice(prefix.length) : ""
    return /^\d+$/.test(id) && Number(id) >= experiments
      ? [{ from: entry.ref, to: `${refPrefix(branch)}/interrupted/${id}-${entry.commit.slice(0, 12)}`, commit: entry.commit }]
      : []
  })
}

/** Moves a ref: the new one is created (never over another), then the old one is deleted if it still names `commit`. */
export const moveRef = Effect.fnUntraced(function*(cwd: string, move: { readonly from: string; readonly to: string; readonly commit: string }) {
  yield* createRef(cwd, move.to, move.commit)
  yield* git(cwd, ["update-ref", "-d", move.from, move.commit])
})

/**
 * Sets a tag's earlier run aside, for `--fresh`: its refs and its branch's head under
 * `refs/autoresearch/<tag>/previous/<stamp>/`, its state files under
 * `.autoresearch/<tag>/previous/<stamp>/`; the branch restarts at the user's HEAD.
 * Returns what it did, in words, or undefined when there was nothing to set aside.
 */
export const setAside = Effect.fnUntraced(function*(where: {
  readonly repoRoot: string
  readonly stateDir: string
  readonly branch: string
}, stamp: string) {
  const history = yield* read(where.repoRoot, where.branch)
  const prefix = refPrefix(where.branch)
  const aside = `${prefix}/${previousName}/${stamp}`
  for (const entry of history.refs) {
    yield* moveRef(where.repoRoot, { from: entry.ref, commit: entry.commit, to: `${aside}/${entry.ref.slice(prefix.length + 1)}` })
  }
  const branchHead = yield* git(where.repoRoot, ["rev-parse", "--verify", "--quiet", `refs/heads/${where.branch}`]).pipe(
    Effect.orElseSucceed(() => "")
  )
  const head = yield* git(where.repoRoot, ["rev-parse", "HEAD"])
  if (branchHead !== "" && branchHead !== head) {
    yield* createRef(where.repoRoot, `${aside}/branch`, branchHead)
    yield* git(where.repoRoot, ["update-ref", `refs/heads/${where.branch}`, head, branchHead])
  }
  const keep = new Set(["worktree", "lock", previousName])
  const files = fs.existsSync(where.stateDir) ? fs.readdirSync(where.stateDir).filter((name) => !keep.has(name)) : []
  const folder = path.join(where.stateDir, previousName, stamp)
  if (files.length > 0) fs.mkdirSync(folder, { recursive: true })
  for (const name of files) fs.renameSync(path.join(where.stateDir, name), path.join(folder, name))
  const moved = history.refs.length + (branchHead !== "" && branchHead !== head ? 1 : 0)
  if (moved === 0 && files.length === 0) return undefined
  return [
    ...(moved === 0 ? [] : [`${moved} ref${moved === 1 ? "" : "s"} under ${aside}/`]),
    ...(files.length === 0 ? [] : [`its state files under ${folder}`])
  ].join(" and ")
})
