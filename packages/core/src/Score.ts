/**
 * What a scorer hands back: the metrics it computed itself from artifacts, the numbers
 * the experiment printed (for comparison only), the gate it must beat, and flags.
 */
import { Schema } from "effect"
import { Flag, IntegrityFlag } from "./Flags.ts"

export const ScoreStatus = Schema.Literals(["ok", "invalid"])

export const Score = Schema.Struct({
  status: ScoreStatus,
  reason: Schema.optional(Schema.String),
  /** Every metric the scorer computed; the primary one is named by the research config. */
  metrics: Schema.Record(Schema.String, Schema.Number),
  /** Numbers the experiment printed, kept for comparison, never trusted. */
  reported: Schema.Record(Schema.String, Schema.Number),
  /** A baseline the primary metric must beat (e.g. bicubic upscaling), when the task has one. */
  gate: Schema.optional(Schema.Struct({ name: Schema.String, value: Schema.Number })),
  /** See Flags.ts: a plug-in's own flag is `custom:<name>`. */
  flags: Schema.Array(Flag)
})
export type Score = typeof Score.Type

/** Flags that void a run: a candidate carrying one is never kept (see `IntegrityFlag`). */
export const integrityFlags: ReadonlySet<string> = new Set(IntegrityFlag.literals)
