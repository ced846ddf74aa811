/**
 * The flags a journal entry can carry, as types: those that void a run (integrity), those
 * a runner sets for the cap that ended a run, those a scorer sets for a human, the
 * `below-<gate>` family for a metric that does not beat the scorer's gate, and
 * `custom:<name>` for a flag a plug-in (runner or scorer) raises of its own. A flag
 * outside these families does not type-check; `isFlag` narrows a string to one.
 */
import { Schema, SchemaGetter } from "effect"

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

/**
 * A plug-in's own flag, e.g. `custom:lr-inconsistent`: shown to a human and kept in the
 * journal, it decides nothing (only an `IntegrityFlag` voids a run).
 */
export const CustomFlag = Schema.TemplateLiteral(["custom:", Schema.String])
export type CustomFlag = typeof CustomFlag.Type

export const Flag = Schema.Union([IntegrityFlag, CapFlag, NoticeFlag, BelowGate, CustomFlag])
export type Flag = typeof Flag.Type

export const belowGate = (gate: string): BelowGate => `below-${gate}`
export const customFlag = (name: string): CustomFlag => `custom:${name}`

export const isIntegrityFlag = Schema.is(IntegrityFlag)
export const isCapFlag = Schema.is(CapFlag)
export const isNoticeFlag = Schema.is(NoticeFlag)
export const isBelowGate = Schema.is(BelowGate)
export const isCustomFlag = Schema.is(CustomFlag)
export const isFlag = Schema.is(Flag)

/** Which family a flag belongs to; a new family fails to compile here until it is named. */
export type FlagKind = "integrity" | "cap" | "notice" | "below-gate" | "custom"
export const flagKind = (flag: Flag): FlagKind => {
  if (isIntegrityFlag(flag)) return "integrity"
  if (isCapFlag(flag)) return "cap"
  if (isNoticeFlag(flag)) return "notice"
  if (isBelowGate(flag)) return "below-gate"
  if (isCustomFlag(flag)) return "custom"
  return absurd(flag)
}

const absurd = (value: never): never => {
  throw new Error(`unexpected flag: ${String(value)}`)
}

/**
 * A flag as the journal stores it: any string decodes, so a journal written before a
 * flag was retired still reads; a string outside the families becomes `custom:<it>`.
 */
export const JournalFlag = Schema.String.pipe(
  Schema.decodeTo(Flag, {
    decode: SchemaGetter.transform((flag: string): Flag => (isFlag(flag) ? flag : customFlag(flag))),
    encode: SchemaGetter.transform((flag: Flag): string => flag)
  })
)
