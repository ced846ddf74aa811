/**
 * The run-directory cap: how much disk a phase's run directory takes, from a bounded walk
 * that never follows a symbolic link nor counts a hard-linked file twice, and whether
 * that is over the cap. The runner polls it while the phase runs and kills the phase the
 * first time it is; RLIMIT_FSIZE stops a single file sooner (see `Caps.phaseRlimits`).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { bytesPerGb } from "./Caps.ts"
import type { CapStop } from "./Triage.ts"

/** Files and directories a walk looks at before it stops: more than this is itself over the cap. */
export const maxEntries = 200_000

/** How often the run directory is measured while a phase runs. */
export const everyMs = 1000

export interface DiskUsage {
  readonly bytes: number
  readonly entries: number
  /** The walk stopped at `maxEntries`: `bytes` is a lower bound. */
  readonly truncated: boolean
}

/**
 * What an entry takes: the larger of its length and its allocated blocks, so that
 * neither a sparse file nor blocks reserved ahead of the data go unseen.
 */
const footprint = (stats: fs.BigIntStats) => Number(stats.blocks * 512n > stats.size ? stats.blocks * 512n : stats.size)

/** The disk taken by `roots` and everything below them, looked at with lstat only. */
export const diskUsage = async (roots: ReadonlyArray<string>, limit = maxEntries): Promise<DiskUsage> => {
  let bytes = 0
  let entries = 0
  const linked = new Set<string>()
  const pending = [...roots]
  while (pending.length > 0) {
    const target = pending.pop()!
    if (entries >= limit) return { bytes, entries, truncated: true }
    let stats: fs.BigIntStats
    try {
      stats = await fs.promises.lstat(target, { bigint: true })
    } catch {
      continue // removed while walking
    }
    entries++
    if (stats.nlink > 1n && !stats.isDirectory()) {
      const inode = `${stats.dev}:${stats.ino}`
      if (linked.has(inode)) continue
      linked.add(inode)
    }
    bytes += footprint(stats)
    if (!stats.isDirectory()) continue
    try {
      for (const name of await fs.promises.readdir(target)) pending.push(path.join(target, name))
    } catch {
      // unreadable or gone: what it holds cannot be counted, nor written by the phase through it
    }
  }
  return { bytes, entries, truncated: false }
}

/** The stop for a run directory over its cap of `capGb`, if it is. */
export const overRunDirCap = (usage: DiskUsage, capGb: number, limit = maxEntries): CapStop | undefined => {
  const usedGb = usage.bytes / bytesPerGb
  if (usage.truncated) return { cap: "run-dir", usedGb, capGb, tooManyFiles: limit }
  return usedGb > capGb ? { cap: "run-dir", usedGb, capGb } : undefined
}
