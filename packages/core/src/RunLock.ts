/**
 * One process per research run: the `lock` file in the run's state folder, created
 * exclusively, names the process that holds it by its PID, its start time and the boot
 * it started in, so that a later process that was given the same PID (after a crash, or
 * after a reboot) is not taken for the holder. A lock that names a process that is gone
 * is taken over.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { isAlive, startTime } from "./Process.ts"

/** Who holds a lock. Locks written before start and boot were recorded hold the PID only. */
export interface LockOwner {
  readonly pid: number
  /** Field 22 of `/proc/<pid>/stat`: clock ticks from boot to the process's start. */
  readonly start?: string
  /** `/proc/sys/kernel/random/boot_id` when the lock was taken. */
  readonly boot?: string
}

/** What is known about the machine now, to judge a lock by. */
export interface LockProbe {
  readonly isAlive: (pid: number) => boolean
  readonly startTime: (pid: number) => string | undefined
  readonly boot: string | undefined
}

/** The lock file's owner: its JSON, or a bare PID (an older lock); undefined when it is neither. */
export const parseLock = (text: string): LockOwner | undefined => {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) > 0 ? { pid: Number(trimmed) } : undefined
  try {
    const value = JSON.parse(trimmed) as Partial<LockOwner> | null
    if (typeof value?.pid !== "number" || !Number.isInteger(value.pid) || value.pid <= 0) return undefined
    return {
      pid: value.pid,
      ...(typeof value.start === "string" ? { start: value.start } : {}),
      ...(typeof value.boot === "string" ? { boot: value.boot } : {})
    }
  } catch {
    return undefined
  }
}

/** Whether the process a lock names still holds it: alive, same boot, same start time (where both are known). */
export const isHeld = (owner: LockOwner, probe: LockProbe): boolean => {
  if (owner.boot !== undefined && probe.boot !== undefined && owner.boot !== probe.boot) return false
  if (!probe.isAlive(owner.pid)) return false
  const start = owner.start === undefined ? undefined : probe.startTime(owner.pid)
  return start === undefined || start === owner.start
}

/** This boot's id, where Linux gives one. */
export const bootId = (): string | undefined => {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined
  } catch {
    return undefined
  }
}

const machine = (): LockProbe => ({ isAlive, startTime, boot: bootId() })

/** This process, as a lock names it. */
export const self = (): LockOwner => {
  const start = startTime(process.pid)
  const boot = bootId()
  return { pid: process.pid, ...(start === undefined ? {} : { start }), ...(boot === undefined ? {} : { boot }) }
}

/** The live process that holds `<stateDir>/lock`, if any (for a reader in another process). */
export const heldBy = (stateDir: string): LockOwner | undefined => {
  try {
    const owner = parseLock(fs.readFileSync(path.join(stateDir, "lock"), "utf8"))
    return owner !== undefined && isHeld(owner, machine()) ? owner : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes `<stateDir>/lock` while the scope lives; fails with `busy(pid)` while another
 * live process holds it. A lock whose holder is gone, or that names nobody, is taken over.
 */
export const acquire = <E>(stateDir: string, errors: {
  readonly busy: (pid: number) => E
  readonly failed: (reason: string) => E
}) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      fs.mkdirSync(stateDir, { recursive: true })
      const file = path.join(stateDir, "lock")
      const me = self()
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          fs.writeFileSync(file, JSON.stringify(me) + "\n", { flag: "wx" })
          return file
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code !== "EEXIST") return yield* Effect.fail(errors.failed(`cannot create the lock ${file}: ${code ?? String(error)}`))
        }
        let text: string
        try {
          text = fs.readFileSync(file, "utf8")
        } catch {
          continue // released between the two calls: try again
        }
        const owner = parseLock(text)
        if (owner !== undefined && isHeld(owner, machine())) return yield* Effect.fail(errors.busy(owner.pid))
        fs.rmSync(file, { force: true })
      }
      return yield* Effect.fail(errors.failed(`could not take the lock ${file}: other processes kept taking it`))
    }),
    (file) =>
      Effect.sync(() => {
        let text = ""
        try {
          text = fs.readFileSync(file, "utf8")
        } catch {
          return
        }
        // Only our own: a lock taken over after ours was removed is another run's.
        if (parseLock(text)?.pid === process.pid) fs.rmSync(file, { force: true })
      })
  )
