/**
 * What a proposer hands back: a one-line description, the hypothesis behind it,
 * and edits to mutable files. An edit with an empty `search` replaces the whole file.
 */
import { Schema } from "effect"

export const Edit = Schema.Struct({
  path: Schema.String,
  search: Schema.String,
  replace: Schema.String
})
export type Edit = typeof Edit.Type

export const Cost = Schema.Struct({
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  cachedTokens: Schema.Number,
  usd: Schema.Number
})
export type Cost = typeof Cost.Type

export const zeroCost: Cost = { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 }

export const addCost = (a: Cost, b: Cost): Cost => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cachedTokens: a.cachedTokens + b.cachedTokens,
  usd: a.usd + b.usd
})

export const Proposal = Schema.Struct({
  description: Schema.NonEmptyString,
  hypothesis: Schema.String,
  edits: Schema.Array(Edit),
  /** Where the proposal came from (a replay folder, a knob setting); lets a resumed run skip what was tried. */
  source: Schema.optional(Schema.String),
  cost: Schema.optional(Cost),
  /** Set when the proposer could not produce valid edits (e.g. after its repair turns): why. */
  invalid: Schema.optional(Schema.String)
})
export type Proposal = typeof Proposal.Type
