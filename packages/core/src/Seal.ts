/**
 * SHA-256 seals of the files an experiment must not change (the immutable files and
 * the data cache), taken before and after each run and compared.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"

/** Path (relative to its root, prefixed by a label) to SHA-256; a missing file seals as `missing`. */
export type Seal = Readonly<Record<string, string>>

const hashFile = (file: string): string => {
  const hash = createHash("sha256")
  const fd = fs.openSync(file, "r")
  try {
    const buffer = Buffer.allocUnsafe(1 << 20)
    for (let read = fs.readSync(fd, buffer); read > 0; read = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, read))
  } finally {
    fs.closeSync(fd)
  }
  return hash.digest("hex")
}

const walk = (root: string, dir = ""): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((entry) => {
      const relative = path.join(dir, entry.name)
      if (entry.isDirectory()) return walk(root, relative)
      return [relative]
    })

/** Seals the given files under `root`, and every file below each of `trees`. */
export const sealOf = (root: string, files: ReadonlyArray<string>, trees: Readonly<Record<string, string>> = {}): Seal => {
  const seal: Record<string, string> = {}
  for (const file of files) {
    const full = path.join(root, file)
    seal[file] = fs.existsSync(full) ? hashFile(full) : "missing"
  }
  for (const [label, tree] of Object.entries(trees)) {
    if (!fs.existsSync(tree)) {
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
