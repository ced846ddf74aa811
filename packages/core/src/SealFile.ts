/**
 * `seal.json`: the immutable files' seal at a research run's first start, against which
 * every later start is checked. It is written atomically. One that a power loss left
 * empty or cut short is rebuilt where that is safe (no experiment recorded yet, or git
 * shows the immutable files unchanged since the baseline commit), and otherwise refused
 * with the file named and the fix.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { git } from "./GitRatchet.ts"
import { Journal } from "./Journal.ts"
import { changedPaths, type Seal } from "./Seal.ts"
import { replaceSynced } from "./SyncedFile.ts"

export class SealFileError extends Schema.TaggedError<SealFileError>()("SealFileError", {
  file: Schema.String,
  problem: Schema.String,
  fix: Schema.String
}) {
  override get message() {
    return `${this.file} ${this.problem} (${this.fix})`
  }
}

export type Recorded =
  | { readonly _tag: "Sealed"; readonly seal: Seal }
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Damaged"; readonly problem: string }

const SealJson = Schema.fromJsonString(Schema.Record(Schema.String, Schema.String))

/** What `file` holds: a seal, nothing, or something damaged (with the problem in words). */
export const readSealFile = (file: string): Recorded => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === "ENOENT" ? { _tag: "Absent" } : { _tag: "Damaged", problem: `cannot be read (${code ?? String(error)})` }
  }
  if (text.trim() === "") return { _tag: "Damaged", problem: "is empty" }
  try {
    return { _tag: "Sealed", seal: Schema.decodeUnknownSync(SealJson)(text) }
  } catch {
    return { _tag: "Damaged", problem: "is cut short or not a seal (an object of path to hash)" }
  }
}

/** Writes a seal through a temporary file, flushed, then renamed into place. */
export const writeSealFile = (file: string, seal: Seal) => replaceSynced(file, JSON.stringify(seal, null, 2) + "\n")

export interface SealCheck {
  /** Immutable paths whose seal differs from the recorded one. */
  readonly changed: ReadonlyArray<string>
  /** Set when a damaged seal.json was rebuilt: what happened, for a warning. */
  readonly rebuilt?: string
}

/**
 * Compares `current` (the immutable files' seal now, in the clean worktree) with the one
 * recorded in `file`, recording it at the first start. `workdir` is the research
 * directory in the worktree and `immutable` its immutable paths, for git to compare.
 */
export const check = Effect.fnUntraced(function*(
  file: string,
  current: Seal,
  options: { readonly resumed: boolean; readonly workdir: string; readonly immutable: ReadonlyArray<string> }
): Effect.fn.Return<SealCheck, SealFileError, Journal> {
  const recorded = readSealFile(file)
  if (recorded._tag === "Sealed") return { changed: changedPaths(recorded.seal, current) }
  if (recorded._tag === "Absent") {
    writeSealFile(file, current)
    return { changed: [] }
  }
  const refuse = (why: string, fix: string) => new SealFileError({ file, problem: `${recorded.problem} and cannot be rebuilt safely: ${why}`, fix })
  if (!options.resumed) {
    writeSealFile(file, current)
    return { changed: [], rebuilt: `${file} ${recorded.problem}; rebuilt (no experiment was recorded yet)` }
  }
  const baseline = (yield* (yield* Journal).entries)[0]?.commit ?? undefined
  if (baseline === undefined) return yield* refuse("the journal records no baseline commit to compare with", "start a new --tag")
  const compare = (args: ReadonlyArray<string>) =>
    git(options.workdir, [...args, "--", ...options.immutable]).pipe(
      Effect.mapError((error) => refuse(`git could not compare with the baseline commit ${baseline.slice(0, 7)} (${error.reason})`, "start a new --tag"))
    )
  const committed = (yield* compare(["diff", "--name-only", "--relative", baseline, "HEAD"])).split("\n").filter((line) => line !== "")
  const uncommitted = (yield* compare(["status", "--porcelain"])) !== ""
  if (committed.length > 0 || uncommitted) {
    const what = committed.length > 0 ? `${committed.join(", ")} changed` : "immutable files have uncommitted changes in the worktree"
    return yield* refuse(
      `${what} since the baseline commit ${baseline.slice(0, 7)}`,
      `restore them with \`git checkout ${baseline.slice(0, 7)} -- FILES\` in the worktree, or start a new --tag`
    )
  }
  writeSealFile(file, current)
  return {
    changed: [],
    rebuilt: `${file} ${recorded.problem}; rebuilt from the immutable files, which git shows unchanged since the baseline commit ${baseline.slice(0, 7)}`
  }
})
