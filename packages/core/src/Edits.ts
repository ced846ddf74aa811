/**
 * Applying a proposal's edits to the mutable files, as a pure function over file
 * contents: every edit must target a mutable file and, unless it replaces the whole
 * file, match exactly once. The first failure is returned with its exact reason.
 */
import { Result, Schema } from "effect"
import * as path from "node:path"
import type { Edit } from "./Proposal.ts"

export class EditRejected extends Schema.TaggedError<EditRejected>()("EditRejected", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.path}: ${this.reason}`
  }
}

const countOccurrences = (text: string, search: string): number => {
  let count = 0
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + 1)) count++
  return count
}

/** One spelling per path: forward slashes, no `./`, no `a/../`. */
export const normalisePath = (file: string) => path.posix.normalize(file.replace(/\\/g, "/"))

/**
 * Returns the new contents of every file the edits touch. `files` holds the current
 * contents of the mutable files, keyed by path relative to the research directory.
 */
export const applyEdits = (
  files: ReadonlyMap<string, string>,
  edits: ReadonlyArray<Edit>
): Result.Result<Map<string, string>, EditRejected> => {
  if (edits.length === 0) {
    return Result.fail(new EditRejected({ path: "(none)", reason: "the proposal has no edits" }))
  }
  const changed = new Map<string, string>()
  for (const edit of edits) {
    const file = normalisePath(edit.path)
    const current = changed.get(file) ?? files.get(file)
    if (current === undefined) {
      const allowed = [...files.keys()].join(", ")
      return Result.fail(new EditRejected({ path: file, reason: `not a mutable file (mutable: ${allowed})` }))
    }
    if (edit.search === "") {
      changed.set(file, edit.replace)
      continue
    }
    const count = countOccurrences(current, edit.search)
    if (count !== 1) {
      return Result.fail(
        new EditRejected({
          path: file,
          reason: count === 0
            ? "search text not found (it must match the file exactly, whitespace included)"
            : `search text occurs ${count} times; it must occur exactly once`
        })
      )
    }
    changed.set(file, current.replace(edit.search, () => edit.replace))
  }
  for (const [file, content] of changed) {
    if (content === files.get(file)) changed.delete(file)
  }
  if (changed.size === 0) {
    return Result.fail(new EditRejected({ path: "(all)", reason: "the edits leave every file unchanged" }))
  }
  return Result.succeed(changed)
}
