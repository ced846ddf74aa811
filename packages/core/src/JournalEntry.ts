/**
 * One line of `journal.jsonl`: everything that happened to one experiment, whatever
 * its outcome, so a run can be audited, reported on and resumed.
 */
import { Schema } from "effect"
import { RunEnvironment } from "./Environment.ts"
import { JournalFlag } from "./Flags.ts"
import { Cost, Proposal } from "./Proposal.ts"

export const EntryStatus = Schema.Literals(["keep", "discard", "crash", "timeout", "oom", "invalid"])
export type EntryStatus = typeof EntryStatus.Type

export const JournalEntry = Schema.Struct({
  id: Schema.Int,
  /** The incumbent commit the candidate was built on (null for nothing). */
  parent: Schema.NullOr(Schema.String),
  /** The candidate's commit (null when the proposal never became one). */
  commit: Schema.NullOr(Schema.String),
  status: EntryStatus,
  metrics: Schema.Record(Schema.String, Schema.Number),
  reported: Schema.Record(Schema.String, Schema.Number),
  /** Any string decodes: one outside the known families reads as `custom:<it>` (see `JournalFlag`). */
  flags: Schema.Array(JournalFlag),
  description: Schema.String,
  hypothesis: Schema.String,
  reason: Schema.optional(Schema.String),
  source: Schema.optional(Schema.String),
  /** The experiment whose edits this one re-applied onto a moved head (parallel workers; see Settle.ts). */
  from: Schema.optional(Schema.Int),
  seconds: Schema.Record(Schema.String, Schema.Number),
  cost: Cost,
  /** The data cache's fingerprint: with `commit` and `env`, what the result is bound to. */
  fingerprint: Schema.String,
  seed: Schema.Int,
  /** Where it ran: Python, torch and CUDA versions, GPU and driver. */
  env: Schema.optional(RunEnvironment),
  memoryGb: Schema.optional(Schema.Number),
  /** What the runner warned about, e.g. that the experiment ran without a sandbox. */
  warnings: Schema.optional(Schema.Array(Schema.String)),
  /** The log of each phase that ran, in order, as the runner named them: a failure's is shown to the proposer. */
  logs: Schema.optional(Schema.Array(Schema.String)),
  /** Primary metric of each confirmation run, when the config asks for them. */
  confirmations: Schema.optional(Schema.Array(Schema.Number)),
  /** The scorer's gate on this experiment's data (e.g. bicubic upscaling's PSNR), when it has one. */
  gate: Schema.optional(Schema.Struct({ name: Schema.String, value: Schema.Number })),
  startedAt: Schema.String,
  finishedAt: Schema.String
})
export type JournalEntry = typeof JournalEntry.Type

/**
 * One line of `started.jsonl`: an experiment given its id and handed to a worker (parallel
 * runs). With `journal.jsonl` it says what was in flight when a run was killed, and the
 * proposal to run again under the same id on resume.
 */
export const StartedEntry = Schema.Struct({
  id: Schema.Int,
  /** The head the experiment was built on when it started. */
  parent: Schema.String,
  proposal: Proposal,
  from: Schema.optional(Schema.Int),
  /** Re-applications that led to it (0 for a fresh proposal). */
  reapplied: Schema.Int,
  startedAt: Schema.String
})
export type StartedEntry = typeof StartedEntry.Type
