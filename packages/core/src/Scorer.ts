/**
 * The Scorer service: trusted code that computes the metrics itself from a run's
 * artifacts and the hidden targets. It never takes a number the experiment printed.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { Experiment } from "./Experiment.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import type { RunResult } from "./RunResult.ts"
import type { Score } from "./Score.ts"

export interface ScoreInput {
  readonly experiment: Experiment
  readonly run: RunResult
  /** The data cache's held-out part, visible to the scorer only. */
  readonly hiddenDir: string
  readonly cacheDir: string
  /** The research run's state folder, for a scorer's own files (never the sealed cache). */
  readonly stateDir: string
  /** The kept experiment the candidate competes with (undefined for the baseline). */
  readonly incumbent: JournalEntry | undefined
}

export class ScorerError extends Schema.TaggedError<ScorerError>()("ScorerError", {
  scorer: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.scorer}: ${this.reason}`
  }
}

export class Scorer extends Context.Service<Scorer, {
  readonly name: string
  readonly score: (input: ScoreInput) => Effect.Effect<Score, ScorerError>
}>()("@autoresearch/core/Scorer") {}
