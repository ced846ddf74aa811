/**
 * What a research run is doing now, for a reader in another process (the live page of
 * `autoresearch serve`): `live.json` in the run's state folder names the experiment, the
 * phase and when it began, and the training budget. The run rewrites it, atomically, at
 * each experiment and phase; whether the run is still going is read from its lock, so a
 * killed run's last status is never taken for a live one.
 */
import * as path from "node:path"
import type { LoopEvent } from "./Events.ts"
import { heldBy } from "./RunLock.ts"
import { readRegularFile } from "./SafeRead.ts"
import { replaceSynced } from "./SyncedFile.ts"

/** One experiment in flight: its phase and when that began (null between phases). */
export interface InFlight {
  readonly id: number
  readonly phase: string | null
  readonly startedAt: string | null
}

export interface LiveStatus {
  /** The experiment of the latest event, and its phase. */
  readonly id: number | null
  readonly phase: string | null
  /** When the phase began (ISO time); null between phases. */
  readonly startedAt: string | null
  readonly budgetSeconds: number
  readonly updatedAt: string
  /** Every experiment in flight, in the order they started: more than one with parallel workers. */
  readonly inFlight: ReadonlyArray<InFlight>
}

export const initial = (now: string): LiveStatus => ({ id: null, phase: null, startedAt: null, budgetSeconds: 0, updatedAt: now, inFlight: [] })

const setPhase = (inFlight: ReadonlyArray<InFlight>, id: number, phase: string | null, startedAt: string | null) =>
  inFlight.map((item) => (item.id === id ? { id, phase, startedAt } : item))

/** The status after an event; the same object for events that change nothing shown. */
export const next = (status: LiveStatus, event: LoopEvent, now: string): LiveStatus => {
  switch (event._tag) {
    case "ExperimentStarted":
      return {
        id: event.id,
        phase: null,
        startedAt: null,
        budgetSeconds: event.budgetSeconds,
        updatedAt: now,
        inFlight: [...status.inFlight.filter((item) => item.id !== event.id), { id: event.id, phase: null, startedAt: null }]
      }
    case "PhaseStarted":
      return {
        ...status,
        id: event.id >= 0 ? event.id : status.id,
        phase: event.phase,
        startedAt: now,
        updatedAt: now,
        inFlight: setPhase(status.inFlight, event.id, event.phase, now)
      }
    case "PhaseFinished":
      return { ...status, phase: null, startedAt: null, updatedAt: now, inFlight: setPhase(status.inFlight, event.id, null, null) }
    case "Decided":
      return { ...status, phase: null, startedAt: null, updatedAt: now, inFlight: status.inFlight.filter((item) => item.id !== event.id) }
    case "LoopFinished":
      return { ...initial(now), id: status.id }
    default:
      return status
  }
}

export const file = (stateDir: string) => path.join(stateDir, "live.json")

/** Replaces `live.json` (a temporary file renamed over it: a reader never sees half of one). */
export const write = (stateDir: string, status: LiveStatus) => replaceSynced(file(stateDir), JSON.stringify(status) + "\n")

/** The last status written and whether its run still holds the lock; undefined before any. */
export const read = (stateDir: string): (LiveStatus & { readonly running: boolean }) | undefined => {
  const text = readRegularFile(file(stateDir), 64 * 1024)
  if (text._tag !== "Text") return undefined
  try {
    const value = JSON.parse(text.text) as LiveStatus
    if (typeof value !== "object" || value === null || typeof value.updatedAt !== "string") return undefined
    return { ...value, running: heldBy(stateDir) !== undefined }
  } catch {
    return undefined
  }
}
