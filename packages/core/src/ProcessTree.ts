/**
 * Finding every process an experiment started, to stop them all: in the sandbox, the
 * members of its PID namespace; without it, the processes that carry the experiment's
 * marker in their environment (which survives `setsid` and double forks), their
 * descendants and its process group. Linux's /proc is read directly; elsewhere only the
 * process group is known.
 */
import * as Process from "./Process.ts"
import * as fs from "node:fs"

interface Stat {
  readonly pid: number
  readonly state: string
  readonly ppid: number
  readonly pgrp: number
}

const hasProc = () => fs.existsSync("/proc/self/stat")

const pids = (): Array<number> => {
  try {
    return fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number)
  } catch {
    return []
  }
}

/** `pid (comm) state ppid pgrp ...`, as `statFields` splits it. */
export const parseStat = (text: string): Stat | undefined => {
  const [state, ppid, pgrp] = Process.statFields(text) ?? []
  const pid = Number(text.slice(0, text.indexOf(" ")))
  if (state === undefined || !Number.isInteger(pid)) return undefined
  return { pid, state, ppid: Number(ppid), pgrp: Number(pgrp) }
}

const stat = (pid: number): Stat | undefined => {
  const text = Process.readStat(pid)
  return text === undefined ? undefined : parseStat(text)
}

export const isAlive = Process.isAlive
export const startTime = Process.startTime

/** The process groups these processes belong to. */
export const processGroups = (targets: Iterable<number>): Set<number> =>
  new Set([...targets].flatMap((pid) => {
    const entry = stat(pid)
    return entry === undefined ? [] : [entry.pgrp]
  }))

/** The inode of a process's PID namespace, e.g. 4026532181 for `pid:[4026532181]`. */
export const pidNamespace = (pid: number | "self"): number | undefined => {
  try {
    const match = /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/pid`))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/** Live processes in the PID namespace with this inode. */
export const namespaceMembers = (namespace: number): Array<number> =>
  pids().filter((pid) => pidNamespace(pid) === namespace && isAlive(pid))

const hasMarker = (pid: number, marker: Buffer) => {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`).includes(marker)
  } catch {
    return false
  }
}

/**
 * Live processes that belong to an unsandboxed experiment: those in its process group,
 * those whose environment holds `variable=value`, and all their descendants.
 */
export const markedMembers = (options: {
  readonly variable: string
  readonly value: string
  readonly processGroup: number | undefined
}): Array<number> => {
  if (!hasProc()) return []
  const marker = Buffer.from(`${options.variable}=${options.value}\0`)
  const table = pids().map(stat).filter((entry): entry is Stat => entry !== undefined && entry.state !== "Z")
  const members = new Set(
    table.filter((entry) =>
      entry.pid !== process.pid &&
      (entry.pgrp === options.processGroup || hasMarker(entry.pid, marker))
    ).map((entry) => entry.pid)
  )
  // Descendants of members, however they left the group or cleaned their environment.
  let grew = true
  while (grew) {
    grew = false
    for (const entry of table) {
      if (!members.has(entry.pid) && members.has(entry.ppid) && entry.pid !== process.pid) {
        members.add(entry.pid)
        grew = true
      }
    }
  }
  return [...members]
}

/** Sends a signal to each process, ignoring those already gone. */
export const signal = (targets: Iterable<number>, name: NodeJS.Signals): void => {
  for (const pid of targets) {
    try {
      process.kill(pid, name)
    } catch {
      // already gone
    }
  }
}

/** Sends a signal to a whole process group. */
export const signalGroup = (processGroup: number | undefined, name: NodeJS.Signals): void => {
  if (processGroup === undefined) return
  try {
    process.kill(-processGroup, name)
  } catch {
    // the group is already empty
  }
}
