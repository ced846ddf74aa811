/**
 * The Proposer service: given the research context, returns the next proposal. Claude,
 * OpenAI-compatible models, offline searches and replays all provide this one service.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { Left } from "./Budgets.ts"
import type { MetricSpec } from "./Config.ts"
import type { EditRejected } from "./Edits.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import type { Edit, Proposal } from "./Proposal.ts"

export interface ResearchContext {
  /** The proposer's instructions (program.md). */
  readonly program: string
  /** The mutable files as they are at the ratchet's head. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly content: string }>
  readonly journal: ReadonlyArray<JournalEntry>
  readonly metric: MetricSpec
  /** The last failed experiment, with the tail of its log. */
  readonly lastFailure: { readonly id: number; readonly status: string; readonly reason: string; readonly logTail: string } | undefined
  readonly left: Left
  /**
   * Validates edits against `files` exactly as the loop will (mutable paths, exactly-once
   * match, syntax), for repair turns; the disk may hold another candidate by then.
   */
  readonly check: (edits: ReadonlyArray<Edit>) => Effect.Effect<void, EditRejected>
  /** Proposals handed out whose experiments are not in the journal yet (prefetching); not to be repeated. */
  readonly inFlight?: ReadonlyArray<Proposal>
}

export class ProposerError extends Schema.TaggedError<ProposerError>()("ProposerError", {
  proposer: Schema.String,
  reason: Schema.String,
  /** The setting or environment variable that fixes it, when one does. */
  fix: Schema.optional(Schema.String)
}) {
  override get message() {
    return `${this.proposer}: ${this.reason}${this.fix ? ` (${this.fix})` : ""}`
  }
}

/** The proposer has nothing more to propose; the loop ends cleanly. */
export class ProposerExhausted extends Schema.TaggedError<ProposerExhausted>()("ProposerExhausted", {
  proposer: Schema.String
}) {}

export class Proposer extends Context.Service<Proposer, {
  readonly name: string
  readonly propose: (context: ResearchContext) => Effect.Effect<Proposal, ProposerError | ProposerExhausted>
}>()("@autoresearch/core/Proposer") {}
