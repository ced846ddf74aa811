/**
 * What an experiment left in its run directory, looked at before trusted code (predict,
 * the scorer) reads it: a symbolic link out of the run directory would let that code
 * read or write a host path, and a FIFO, a socket or a device would block or feed it.
 * Nothing is opened or followed; each entry is looked at with lstat.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { kindOf } from "./SafeRead.ts"

/** One entry as lstat saw it, and where a symbolic link leads (undefined when nowhere). */
export interface RunDirEntry {
  /** Relative to the run directory. */
  readonly path: string
  readonly kind: "file" | "directory" | "link" | "other"
  /** `a FIFO`, `a socket`, `a device`, for `other`. */
  readonly what?: string
  /** A link's text, as readlink gives it. */
  readonly linkText?: string
  /** Where a link leads once every link on the way is followed, absolute; undefined when it leads nowhere. */
  readonly resolved?: string
}

const within = (file: string, dir: string) => file === dir || file.startsWith(dir + path.sep)

/** Why an entry must not be read by trusted code, or undefined when it may be. */
export const entryProblem = (entry: RunDirEntry, realRunDir: string): string | undefined => {
  if (entry.kind === "other") return `${entry.path} is ${entry.what ?? "not a regular file"}`
  if (entry.kind !== "link") return undefined
  if (entry.resolved === undefined) return `${entry.path} is a symbolic link to ${entry.linkText ?? "?"}, which does not exist`
  return within(entry.resolved, realRunDir)
    ? undefined
    : `${entry.path} is a symbolic link to ${entry.linkText ?? entry.resolved}, outside the run directory`
}

/** The entries below `runDir`, without following links; stops after `maxEntries`. */
export const entries = (runDir: string, maxEntries: number): { readonly found: ReadonlyArray<RunDirEntry>; readonly complete: boolean } => {
  const found: Array<RunDirEntry> = []
  const pending = [""]
  while (pending.length > 0) {
    const relative = pending.shift()!
    let names: Array<string>
    try {
      names = fs.readdirSync(path.join(runDir, relative)).sort()
    } catch {
      continue
    }
    for (const name of names) {
      if (found.length >= maxEntries) return { found, complete: false }
      const rel = path.join(relative, name)
      const full = path.join(runDir, rel)
      let stats: fs.Stats
      try {
        stats = fs.lstatSync(full)
      } catch {
        continue
      }
      if (stats.isDirectory()) {
        found.push({ path: rel, kind: "directory" })
        pending.push(rel)
      } else if (stats.isFile()) found.push({ path: rel, kind: "file" })
      else if (stats.isSymbolicLink()) {
        let linkText: string | undefined
        let resolved: string | undefined
        try {
          linkText = fs.readlinkSync(full)
          resolved = fs.realpathSync(full)
        } catch {
          // dangling, or a loop
        }
        found.push({ path: rel, kind: "link", ...(linkText === undefined ? {} : { linkText }), ...(resolved === undefined ? {} : { resolved }) })
      } else found.push({ path: rel, kind: "other", what: kindOf(stats) })
    }
  }
  return { found, complete: true }
}

/**
 * Why trusted code must not read the run directory, or undefined when it may: its links
 * that lead out of it (or nowhere), its FIFOs, sockets and devices, the first few named.
 */
export const unsafeContents = (runDir: string, maxEntries = 200_000): string | undefined => {
  let realRunDir: string
  try {
    realRunDir = fs.realpathSync(runDir)
  } catch {
    return undefined // nothing there to read
  }
  const { found, complete } = entries(runDir, maxEntries)
  const problems = found.flatMap((entry) => entryProblem(entry, realRunDir) ?? [])
  if (!complete) problems.push(`it holds more than ${maxEntries} entries`)
  if (problems.length === 0) return undefined
  const shown = problems.slice(0, 3).join("; ")
  return `the run directory holds what trusted code must not read: ${shown}${problems.length > 3 ? `; and ${problems.length - 3} more` : ""}`
}
