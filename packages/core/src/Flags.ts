/**
 * The flags a journal entry can carry, as types: those that void a run (integrity), those
 * a runner sets for the cap that ended a run, those a scorer sets for a human, and the
 * `below-<gate>` family for a metric that does not beat the scorer's gate. A plug-in may
 * raise a flag of its own, so the services' own fields stay strings; `isFlag` narrows one.
 */
import { Schema } from "effect"

/** Flags that void a run: a candidate carrying one is never kept. */
export const IntegrityFlag = Schema.Literals(["immutable-modified", "metric-mismatch", "non-finite", "budget-exceeded"])
export type IntegrityFlag = typeof IntegrityFlag.Type

/** Which of the runner's caps ended a run. */
export const CapFlag = Schema.Literals(["memory-cap", "pids-cap", "disk-full", "vram-exceeded"])
export type CapFlag = typeof CapFlag.Type

/** Flags a scorer sets for a human, which do not decide anything. */
export const NoticeFlag = Schema.Literals(["ssim-drop"])
export type NoticeFlag = typeof NoticeFlag.Type

/** The primary metric does not beat the scorer's gate, e.g. `below-bicubic`. */
export const BelowGate = Schema.TemplateLiteral(["below-", Schema.String])
export type BelowGate = typeof BelowGate.Type

export const Flag = Schema.Union([IntegrityFlag, CapFlag, NoticeFlag, BelowGate])
export type Flag = typeof Flag.Type

export const belowGate = (gate: string): BelowGate => `below-${gate}`

export const isIntegrityFlag = Schema.is(IntegrityFlag)
export const isFlag = Schema.is(Flag)
