/**
 * The embedded default proposer, for when no model is configured: a seeded search over
 * the `# @knob` constants of the mutable files (see KnobSearch). Everything it needs is
 * in the context: the incumbent's values are in the files at the ratchet's head, and each
 * earlier trial's configuration is in its journal entry's `source`, so a resumed run
 * proposes what an unbroken one would.
 */
import { type JournalEntry, Proposer, ProposerError, ProposerExhausted, type ResearchContext } from "@autoresearch/core"
import { Effect, Layer, Schema } from "effect"
import { canonical, type Config, configOf, type Knob, knobEdit, parseKnobs } from "./Knobs.ts"
import { type Move, nextStep, random, seedFor, type Step, type Trial } from "./KnobSearch.ts"

export interface KnobOptions {
  /** Seeds the search; the same seed and journal give the same proposals. */
  readonly seed?: number
}

const prefix = "knob:"

/** What a knob proposal records in `source`: the whole configuration and what the changed knobs were before. */
const Source = Schema.fromJsonString(Schema.Struct({
  set: Schema.Record(Schema.String, Schema.String),
  from: Schema.Record(Schema.String, Schema.String),
  move: Schema.optional(Schema.Literals(["mutate", "combine", "explore"]))
}))
const decodeSource = Schema.decodeUnknownOption(Source)
const encodeSource = Schema.encodeSync(Source)

export const sourceOf = (set: Config, from: Config, move: Move) =>
  prefix + encodeSource({ set: { ...set }, from: { ...from }, move })

const parseSource = (source: string | undefined) =>
  source?.startsWith(prefix) ? decodeSource(source.slice(prefix.length)) : undefined

/** The trials the journal records for knob proposals, in order. */
export const trialsOf = (journal: ReadonlyArray<JournalEntry>, metric: string): Array<Trial> => {
  let incumbentValue: number | undefined
  return journal.flatMap((entry) => {
    const parentValue = incumbentValue
    if (entry.status === "keep") incumbentValue = entry.metrics[metric]
    const source = parseSource(entry.source)
    if (source === undefined || source._tag === "None") return []
    const completed = entry.status === "keep" || entry.status === "discard"
    return [{
      id: entry.id,
      config: source.value.set,
      parent: { ...source.value.set, ...source.value.from },
      value: completed ? entry.metrics[metric] : undefined,
      parentValue,
      kept: entry.status === "keep",
      move: source.value.move
    }]
  })
}

const hypothesisOf = (step: Step, metric: string) => {
  switch (step.move) {
    case "mutate":
      return `A step of size ${step.sigma.toFixed(2)} (as a fraction of each knob's range) around the best configuration so far.`
    case "combine":
      return `The changes of experiments ${step.combined?.[0].id} and ${step.combined?.[1].id} together: each improved ` +
        `${metric} on the best configuration, by too little to be kept alone.`
    case "explore":
      return "A random configuration: the neighbourhood of the best one is tried out."
  }
}

export const make = (options: KnobOptions = {}) => {
  let warned = false
  const propose = Effect.fnUntraced(function*(context: ResearchContext) {
    const { knobs, problems } = parseKnobs(context.files)
    if (problems.length > 0 && !warned) {
      warned = true
      for (const problem of problems) yield* Effect.logWarning(`knob: ${problem.path}:${problem.line}: ${problem.reason}`)
    }
    if (knobs.length === 0) {
      return yield* new ProposerError({
        proposer: "knob",
        reason: "the mutable files have no `# @knob` annotations to search",
        fix: "annotate tunable constants, e.g. `LEARNING_RATE = 0.01  # @knob log 1e-4..1`, or use a model proposer"
      })
    }
    const incumbent = configOf(knobs)
    const pending = (context.inFlight ?? []).flatMap((proposal) => {
      const source = parseSource(proposal.source)
      return source === undefined || source._tag === "None" ? [] : [source.value.set]
    })
    const step = nextStep({
      knobs,
      incumbent,
      trials: trialsOf(context.journal, context.metric.name),
      pending,
      direction: context.metric.direction,
      next: random(seedFor(options.seed ?? 0, context.journal.length + pending.length))
    })
    if (step === undefined) return yield* new ProposerExhausted({ proposer: "knob" })
    const changed = knobs.filter((knob: Knob) => canonical(knob, step.config[knob.id]!) !== canonical(knob, knob.value))
    return {
      description: changed.map((knob) => `${knob.id} ${knob.value} -> ${step.config[knob.id]}`).join(", "),
      hypothesis: hypothesisOf(step, context.metric.name),
      edits: changed.map((knob) => knobEdit(knob, step.config[knob.id]!)),
      source: sourceOf(step.config, Object.fromEntries(changed.map((knob) => [knob.id, knob.value])), step.move)
    }
  })
  return Proposer.of({ name: "knob", propose })
}

export const layer = (options: KnobOptions = {}) => Layer.succeed(Proposer, make(options))
