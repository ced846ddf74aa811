/**
 * What the loop hands a runner: one phase of an experiment at a time (`PhaseRun`), with
 * the candidate's working directory, its run directory, the phase's time limit,
 * environment and the paths it may read or write. Paths in `hidden` must not be visible
 * to the phase. The loop runs an experiment's phases in order, one call each, and stops
 * at the first that does not end ok.
 */
import { Schema } from "effect"

/**
 * The phases the harness plans (see Plan.ts): `predict-test` is `verify`'s predict on the
 * test split. A config names its commands by the fixed keys of `phases` (Config.ts), so
 * these are every phase a runner is handed.
 */
export const PhaseName = Schema.Literals(["prepare", "train", "predict", "predict-test"])
export type PhaseName = typeof PhaseName.Type

export const Phase = Schema.Struct({
  name: PhaseName,
  /** Full argv, interpreter included. */
  command: Schema.Array(Schema.String),
  timeoutSeconds: Schema.Number,
  /** `AUTORESEARCH_*` variables for this phase; the runner adds its own allowlisted ones. */
  env: Schema.Record(Schema.String, Schema.String),
  /** Paths outside the working directory the phase may read. */
  readable: Schema.Array(Schema.String),
  /** Paths the phase may write; the run directory is always writable. */
  writable: Schema.Array(Schema.String)
})
export type Phase = typeof Phase.Type

/** An experiment as the loop runs and scores it: where it runs, with which seed, what it may not see. */
export const Experiment = Schema.Struct({
  /** The experiment's number in the journal, or a name such as `prepare`. */
  id: Schema.String,
  /** The research directory inside the candidate's checkout. */
  workdir: Schema.String,
  runDir: Schema.String,
  seed: Schema.Int,
  /** Paths no phase may see (held-out targets, the repository's .git). */
  hidden: Schema.Array(Schema.String)
})
export type Experiment = typeof Experiment.Type

/** What a runner is handed: one phase of an experiment. */
export const PhaseRun = Schema.Struct({
  ...Experiment.fields,
  phase: Phase
})
export type PhaseRun = typeof PhaseRun.Type
