/**
 * SHA-256 seals of the files an experiment must not change (the immutable files and
 * the data cache), taken before and after each run and compared.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { kindOf, lstat, openRegular } from "./SafeRead.ts"

/**
 * Path (relative to its root, prefixed by a label) to SHA-256. What is not a regular file
 * seals as what it is: `missing`, `not a regular file: a FIFO` (never opened: a FIFO would
 * block the read for ever), or `symbolic link to <target>: <what the target seals as>`.
 */
export type Seal = Readonly<Record<string, string>>

/** The SHA-256 of a regular file, opened without waiting on a FIFO; else what is there instead. */
const hashContent = (file: string, follow: boolean): string => {
  const opened = openRegular(file, { follow })
  if (opened._tag === "Missing") return "missing"
  if (opened._tag === "Refused") {
    const stats = follow ? statOf(file) : lstat(file)
    return stats === undefined || stats.isFile() ? `unreadable: ${opened.problem}` : `not a regular file: ${kindOf(stats)}`
  }
  const hash = createHash("sha256")
  try {
    const buffer = Buffer.allocUnsafe(1 << 20)
    for (let read = fs.readSync(opened.fd, buffer); read > 0; read = fs.readSync(opened.fd, buffer)) hash.update(buffer.subarray(0, read))
  } finally {
    fs.closeSync(opened.fd)
  }
  return hash.digest("hex")
}

const statOf = (file: string) => {
  try {
    return fs.statSync(file)
  } catch {
    return undefined
  }
}

const hashFile = (file: string): string =>
  lstat(file)?.isSymbolicLink() === true ? `symbolic link to ${fs.readlinkSync(file)}: ${hashContent(file, true)}` : hashContent(file, false)

const walk = (root: string, dir = ""): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => {
      const relative = path.join(dir, entry.name)
      // A directory, not a symbolic link to one: a link is sealed as a link.
      if (entry.isDirectory()) return walk(root, relative)
      return [relative]
    })

/** The root of a tree is the harness's own path: a link to it is followed. */
const isDirectory = (tree: string) => statOf(tree)?.isDirectory() === true

/** Seals the given files under `root`, and every file below each of `trees`. */
export const sealOf = (root: string, files: ReadonlyArray<string>, trees: Readonly<Record<string, string>> = {}): Seal => {
  const seal: Record<string, string> = {}
  for (const file of files) seal[file] = hashFile(path.join(root, file))
  for (const [label, tree] of Object.entries(trees)) {
    if (!isDirectory(tree)) {
      seal[`${label}/`] = "missing"
      continue
    }
    for (const file of walk(tree)) seal[`${label}/${file}`] = hashFile(path.join(tree, file))
  }
  return seal
}

/** Paths whose hash differs, or that appear in only one seal. */
export const changedPaths = (before: Seal, after: Seal): Array<string> =>
  [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((key) => before[key] !== after[key]).sort()

/** One hash for a whole seal, e.g. the data cache's fingerprint in the journal. */
export const fingerprint = (seal: Seal): string =>
  createHash("sha256")
    .update(Object.keys(seal).sort().map((key) => `${key}\0${seal[key]}`).join("\n"))
    .digest("hex")
    .slice(0, 16)
