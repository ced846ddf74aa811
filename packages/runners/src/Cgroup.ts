/**
 * A cgroup per phase, on Linux: found once (a v2 cgroup whose children get the memory and
 * pids controllers, or the v1 memory and pids hierarchies, each tried for real with a
 * throwaway child), then made for every phase with its limits, read for what the kernel
 * counted (OOM kills, refused forks) once the phase has ended, and emptied and removed.
 * Phases enter their cgroup through the wrapper in `Caps.enterCgroupArgv`.
 */
import { Command, ProcessTree } from "@autoresearch/core"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { type CgroupProbe, enterCgroupArgv, type Enforcement } from "./Caps.ts"

export interface Mounts {
  /** Where the cgroup2 filesystem is mounted, if it is. */
  readonly v2: string | undefined
  /** Where each v1 controller's hierarchy is mounted, by controller. */
  readonly v1: Readonly<Record<string, string>>
}

/** The cgroup mounts in `/proc/self/mounts`. */
export const parseMounts = (text: string): Mounts => {
  let v2: string | undefined
  const v1: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const [, mountpoint, type, options] = line.split(" ")
    if (mountpoint === undefined || options === undefined) continue
    // /proc/mounts escapes spaces and the like as octal
    const where = mountpoint.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8)))
    if (type === "cgroup2") v2 ??= where
    else if (type === "cgroup") for (const option of options.split(",")) v1[option] ??= where
  }
  return { v2, v1 }
}

export interface Membership {
  /** The process's cgroup in the v2 hierarchy (`0::/path`). */
  readonly v2: string | undefined
  /** Its cgroup in each v1 hierarchy, by controller. */
  readonly v1: Readonly<Record<string, string>>
}

/** A process's cgroups, from `/proc/<pid>/cgroup`. */
export const parseMembership = (text: string): Membership => {
  let v2: string | undefined
  const v1: Record<string, string> = {}
  for (const line of text.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
    if (match === null) continue
    const [, id, controllers, where] = match
    if (id === "0" && controllers === "") v2 = where
    else for (const controller of controllers!.split(",")) if (controller !== "") v1[controller] = where!
  }
  return { v2, v1 }
}

/** A flat-keyed cgroup file (`memory.events`, `pids.events`, `memory.oom_control`) as numbers by key. */
export const parseKeyed = (text: string): Record<string, number> => {
  const entries: Record<string, number> = {}
  for (const line of text.split("\n")) {
    const [key, value] = line.trim().split(/\s+/)
    if (key !== undefined && key !== "" && value !== undefined && /^\d+$/.test(value)) entries[key] = Number(value)
  }
  return entries
}

/** A cgroup's directory and those above it, up to the hierarchy's root: where a phase's cgroup may go. */
export const ancestors = (mount: string, cgroup: string): Array<string> => {
  const parts = cgroup.split("/").filter((part) => part !== "" && part !== "." && part !== "..")
  return parts.map((_, index) => path.join(mount, ...parts.slice(0, parts.length - index))).concat(mount)
}

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

const write = (file: string, value: string): string | undefined => {
  try {
    fs.writeFileSync(file, value)
    return undefined
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error)
  }
}

/** Phase cgroups are named after the runner's PID, so that a later runner removes only those of dead runners. */
const prefix = "autoresearch-"
const childName = () => `${prefix}${process.pid}-${crypto.randomUUID().slice(0, 8)}`

const removeDir = (dir: string) => {
  try {
    fs.rmdirSync(dir)
  } catch {
    // still busy, or gone
  }
}

const pidsIn = (dir: string): Array<number> =>
  (read(path.join(dir, "cgroup.procs")) ?? "").split("\n").filter((line) => /^\d+$/.test(line)).map(Number)

const emptyAndRemove = async (dirs: ReadonlyArray<string>): Promise<boolean> => {
  for (let round = 0; round < 100; round++) {
    const left = dirs.filter((dir) => fs.existsSync(dir))
    if (left.length === 0) return true
    for (const dir of left) {
      // cgroup.kill (v2, Linux 5.14) kills every member at once, forks in flight included.
      if (write(path.join(dir, "cgroup.kill"), "1") !== undefined) ProcessTree.signal(pidsIn(dir), "SIGKILL")
      removeDir(dir)
    }
    await new Promise((resolve) => setTimeout(resolve, round < 10 ? 10 : 50))
  }
  return dirs.every((dir) => !fs.existsSync(dir))
}

/**
 * Makes a child in each directory, checks that it has the files named, and that a
 * process can move into all of them through the phase wrapper; removes them again.
 */
const tryChildren = async (
  dirs: ReadonlyArray<{ readonly dir: string; readonly files: ReadonlyArray<string> }>
): Promise<string | undefined> => {
  const made: Array<string> = []
  try {
    for (const { dir, files } of dirs) {
      const child = path.join(dir, childName())
      try {
        fs.mkdirSync(child)
      } catch (error) {
        return `cannot create a cgroup in ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`
      }
      made.push(child)
      const missing = files.find((file) => !fs.existsSync(path.join(child, file)))
      if (missing !== undefined) return `a cgroup made in ${dir} has no ${missing}`
    }
    const [shell, ...args] = enterCgroupArgv(made.map((child) => path.join(child, "cgroup.procs")))
    const moved = await Effect.runPromise(
      Command.run(shell!, [...args, "true"], { timeoutMs: 15_000 }).pipe(Effect.map(Command.succeeded), Effect.orElseSucceed(() => false))
    )
    return moved ? undefined : `cannot move a process into a cgroup in ${dirs.map((entry) => entry.dir).join(" and ")}`
  } finally {
    await emptyAndRemove(made)
  }
}

const probeV2 = async (mounts: Mounts, own: Membership): Promise<CgroupProbe<{ readonly parent: string }>> => {
  if (mounts.v2 === undefined) return { usable: false, problem: "no cgroup2 file system is mounted" }
  if (own.v2 === undefined) return { usable: false, problem: "this process is in no cgroup v2" }
  const problems: Array<string> = []
  for (const dir of ancestors(mounts.v2, own.v2)) {
    const enabled = (read(path.join(dir, "cgroup.subtree_control")) ?? "").split(/\s+/)
    if (!enabled.includes("memory") || !enabled.includes("pids")) continue
    const problem = await tryChildren([{ dir, files: ["memory.max", "pids.max"] }])
    if (problem === undefined) return { usable: true, parent: dir }
    problems.push(problem)
  }
  if (problems.length > 0) return { usable: false, problem: problems.join("; ") }
  const available = (read(path.join(mounts.v2, "cgroup.controllers")) ?? "").trim()
  return {
    usable: false,
    problem: `no cgroup from ${own.v2} up has the memory and pids controllers enabled for its children ` +
      `(the root offers: ${available === "" ? "none" : available})`
  }
}

const probeV1 = async (mounts: Mounts, own: Membership): Promise<CgroupProbe<{ readonly memory: string; readonly pids: string }>> => {
  const dirs: Record<string, string> = {}
  for (const controller of ["memory", "pids"]) {
    const mount = mounts.v1[controller]
    if (mount === undefined) return { usable: false, problem: `no ${controller} hierarchy is mounted` }
    dirs[controller] = path.join(mount, own.v1[controller] ?? "/")
  }
  const memory = dirs.memory!
  const pids = dirs.pids!
  const problem = await tryChildren(
    memory === pids
      ? [{ dir: memory, files: ["memory.limit_in_bytes", "pids.max"] }]
      : [{ dir: memory, files: ["memory.limit_in_bytes"] }, { dir: pids, files: ["pids.max"] }]
  )
  return problem === undefined ? { usable: true, memory, pids } : { usable: false, problem }
}

/** What cgroups this process can give its phases (Linux only). */
export const probe = async (): Promise<{
  readonly cgroup2: CgroupProbe<{ readonly parent: string }>
  readonly cgroup1: CgroupProbe<{ readonly memory: string; readonly pids: string }>
}> => {
  const mounts = parseMounts(read("/proc/self/mounts") ?? "")
  const own = parseMembership(read("/proc/self/cgroup") ?? "")
  const cgroup2 = await probeV2(mounts, own)
  // Only tried where v2 cannot serve: a throwaway v1 child is cheap, but not free.
  const cgroup1 = cgroup2.usable ? { usable: false as const, problem: "not tried: v2 is usable" } : await probeV1(mounts, own)
  return { cgroup2, cgroup1 }
}

/** What the kernel counted in a phase's cgroup. */
export interface Counters {
  /** Processes the OOM killer killed in it; absent where the kernel does not say (v1 before 4.13). */
  readonly oomKills?: number
  /** Times its usage hit the memory limit (v1's failcnt, v2's `max` events): reclaim, or an OOM kill. */
  readonly memoryLimitHits?: number
  /** Forks refused at its pids limit. */
  readonly forksRefused?: number
}

/** The counters of a phase's cgroup, from the text of its files (absent ones: undefined). */
export const countersOf = (method: "cgroup2" | "cgroup1", files: {
  readonly memoryEvents?: string | undefined
  readonly oomControl?: string | undefined
  readonly failcnt?: string | undefined
  readonly pidsEvents?: string | undefined
}): Counters => {
  const pids = files.pidsEvents === undefined ? {} : parseKeyed(files.pidsEvents)
  const memory = method === "cgroup2"
    ? parseKeyed(files.memoryEvents ?? "")
    : { ...parseKeyed(files.oomControl ?? ""), max: Number((files.failcnt ?? "").trim() || Number.NaN) }
  const defined = (value: number | undefined) => (value === undefined || Number.isNaN(value) ? undefined : value)
  const oomKills = defined(memory.oom_kill)
  const memoryLimitHits = defined(memory.max)
  const forksRefused = defined(pids.max)
  return {
    ...(oomKills === undefined ? {} : { oomKills }),
    ...(memoryLimitHits === undefined ? {} : { memoryLimitHits }),
    ...(forksRefused === undefined ? {} : { forksRefused })
  }
}

/** One phase's cgroup (in v1: its memory and pids cgroups). */
export interface PhaseCgroup {
  /** The `cgroup.procs` files the phase's wrapper writes itself into. */
  readonly procsFiles: ReadonlyArray<string>
  /** The host PIDs of the processes in it now. */
  readonly members: () => Array<number>
  readonly counters: () => Counters
  /** Kills what is left in it and removes it; says whether it is gone. */
  readonly remove: () => Promise<boolean>
}

/** Makes a phase's cgroup with its limits, or says why it could not. */
export const create = (
  enforcement: Extract<Enforcement, { readonly method: "cgroup2" | "cgroup1" }>,
  limits: { readonly memoryBytes: number; readonly maxProcesses: number }
): PhaseCgroup | { readonly problem: string } => {
  const name = childName()
  const memoryDir = path.join(enforcement.method === "cgroup2" ? enforcement.parent : enforcement.memory, name)
  const pidsDir = enforcement.method === "cgroup2" ? memoryDir : path.join(enforcement.pids, name)
  const dirs = [...new Set([memoryDir, pidsDir])]
  const made: Array<string> = []
  const fail = (problem: string) => {
    for (const dir of made) removeDir(dir)
    return { problem }
  }
  for (const dir of dirs) {
    try {
      fs.mkdirSync(dir)
      made.push(dir)
    } catch (error) {
      return fail(`cannot create the cgroup ${dir} (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
    }
  }
  const memory = String(Math.max(4096, Math.floor(limits.memoryBytes)))
  const required = enforcement.method === "cgroup2"
    ? [["memory.max", memory], ["pids.max", String(limits.maxProcesses)]]
    : [["memory.limit_in_bytes", memory], ["pids.max", String(limits.maxProcesses)]]
  for (const [file, value] of required) {
    const target = path.join(file!.startsWith("pids.") ? pidsDir : memoryDir, file!)
    const problem = write(target, value!)
    if (problem !== undefined) return fail(`cannot write ${value} to ${target} (${problem})`)
  }
  // Swap is not a way around the cap; where these files are missing there is no swap accounting to close.
  if (enforcement.method === "cgroup2") {
    write(path.join(memoryDir, "memory.swap.max"), "0")
    // The OOM killer takes the whole phase, not one worker that the rest would outlive.
    write(path.join(memoryDir, "memory.oom.group"), "1")
  } else {
    write(path.join(memoryDir, "memory.memsw.limit_in_bytes"), memory)
  }
  return {
    procsFiles: dirs.map((dir) => path.join(dir, "cgroup.procs")),
    members: () => [...new Set(dirs.flatMap(pidsIn))],
    counters: () =>
      countersOf(enforcement.method, {
        memoryEvents: read(path.join(memoryDir, "memory.events")),
        oomControl: read(path.join(memoryDir, "memory.oom_control")),
        failcnt: read(path.join(memoryDir, "memory.failcnt")),
        pidsEvents: read(path.join(pidsDir, "pids.events"))
      }),
    remove: () => emptyAndRemove(dirs)
  }
}

/** Removes the phase cgroups of runners that are gone, killing what is left in them. */
export const sweep = async (enforcement: Enforcement): Promise<void> => {
  const parents = enforcement.method === "cgroup2"
    ? [enforcement.parent]
    : enforcement.method === "cgroup1"
    ? [enforcement.memory, enforcement.pids]
    : []
  for (const parent of parents) {
    let names: Array<string>
    try {
      names = fs.readdirSync(parent)
    } catch {
      continue
    }
    const stale = names.filter((name) => {
      const match = /^autoresearch-(\d+)-[0-9a-f]{8}$/.exec(name)
      return match !== null && !ProcessTree.isAlive(Number(match[1]))
    })
    await emptyAndRemove(stale.map((name) => path.join(parent, name)))
  }
}
