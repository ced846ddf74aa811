/**
 * One candidate's way through the loop, shared by the sequential loop and parallel
 * workers: what the proposer is told of the last failure, training and scoring the
 * checked-out candidate with its decision, and the journal entry that records it.
 */
import { Clock, Effect } from "effect"
import type { ResolvedConfig } from "./Config.ts"
import { decide, type DecisionInput, needsConfirmation } from "./Decision.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { confirmSeed } from "./Noise.ts"
import { type Proposal, zeroCost } from "./Proposal.ts"
import { readRegularFile } from "./SafeRead.ts"
import * as Trials from "./Trials.ts"

/** The last lines of a log the experiment could have tampered with: never a FIFO or a link. */
const tail = (file: string, lines = 40) => {
  const read = readRegularFile(file, 16_384, { fromEnd: true })
  return read._tag === "Text" ? read.text.split("\n").slice(-lines).join("\n") : ""
}

/** The tail of the last log of a failed experiment that says anything: the phase that failed wrote it. */
const failureLog = (entry: JournalEntry) =>
  [...(entry.logs ?? [])].reverse().map((log) => tail(log)).find((text) => text !== "") ?? ""

/** Runs effects, recording in `seconds` how long each named one took. */
export const timer = (seconds: Record<string, number>) => <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const t0 = yield* Clock.currentTimeMillis
    const result = yield* effect
    seconds[name] = ((yield* Clock.currentTimeMillis) - t0) / 1000
    return result
  })

export type OpenedTrials = Effect.Success<ReturnType<typeof Trials.open>>

/** The last experiment that failed (not kept, not discarded), with its log's tail, for the proposer. */
export const lastFailure = (entries: ReadonlyArray<JournalEntry>) => {
  const failed = [...entries].reverse().find((entry) => entry.status !== "keep" && entry.status !== "discard")
  return failed === undefined ? undefined : { id: failed.id, status: failed.status, reason: failed.reason ?? "", logTail: failureLog(failed) }
}

/**
 * Trains and scores the candidate checked out in the trials' workspace, decides (with the
 * confirmation runs the config asks for; `beforeConfirm` readies the checkout for them),
 * and says what the journal records of it.
 */
export const measureCandidate = Effect.fnUntraced(function*<E, R>(
  config: ResolvedConfig,
  trials: OpenedTrials,
  options: {
    readonly id: number
    readonly incumbent: JournalEntry | undefined
    readonly incumbentMetric: number | undefined
    readonly minDelta: number
    readonly seconds: Record<string, number>
    readonly beforeConfirm: Effect.Effect<void, E, R>
  }
) {
  const { id, incumbent, seconds } = options
  const first = yield* trials.trial({ id, seed: config.seed, label: String(id), incumbent })
  const { result } = first
  for (const phase of result.phases) seconds[phase.name] = phase.seconds
  if (first.seconds !== undefined) Object.assign(seconds, first.seconds)
  const input: DecisionInput = {
    baseline: id === 0,
    run: result,
    score: first.score,
    sealChanged: first.sealChanged,
    incumbent: options.incumbentMetric,
    minDelta: options.minDelta,
    metric: config.metric
  }
  let decision = decide(input)
  if (needsConfirmation(decision, input, config.budget.confirmRuns)) {
    // A keep counts only if the mean over new seeds still passes; they train the candidate on a clean checkout.
    yield* options.beforeConfirm
    const confirmations: Array<number | undefined> = []
    for (let k = 1; k <= config.budget.confirmRuns; k++) {
      const seed = confirmSeed(config.seed, id, k)
      confirmations.push(Trials.metricOf(yield* trials.trial({ id, seed, label: `${id}-seed${seed}`, incumbent }), config.metric.name))
    }
    decision = decide({ ...input, confirmations })
  }
  const fields = {
    status: decision.status,
    metrics: decision.metrics,
    reported: first.score?.reported ?? {},
    flags: decision.flags,
    reason: decision.reason,
    logs: result.phases.map((phase) => phase.logPath),
    ...(result.peakMemoryGb === undefined ? {} : { memoryGb: result.peakMemoryGb }),
    ...(result.warnings === undefined ? {} : { warnings: result.warnings }),
    ...(decision.confirmations === undefined ? {} : { confirmations: decision.confirmations }),
    ...(first.score?.gate === undefined ? {} : { gate: first.score.gate })
  } satisfies Partial<JournalEntry>
  return { decision, result, fields }
})

/** A journal entry of the run: what every experiment records, then `fields`. */
export const entryOf = (
  base: {
    readonly id: number
    readonly parent: string | null
    readonly proposal: Proposal
    readonly seconds: Readonly<Record<string, number>>
    readonly fingerprint: string
    readonly seed: number
    readonly env: JournalEntry["env"]
    readonly startedAt: string
    readonly finishedAt: string
  },
  fields: Partial<JournalEntry> & Pick<JournalEntry, "status" | "commit">
): JournalEntry => ({
  id: base.id,
  parent: base.parent,
  metrics: {},
  reported: {},
  flags: [],
  description: base.proposal.description,
  hypothesis: base.proposal.hypothesis,
  ...(base.proposal.source === undefined ? {} : { source: base.proposal.source }),
  seconds: { ...base.seconds, total: (Date.parse(base.finishedAt) - Date.parse(base.startedAt)) / 1000 },
  cost: base.proposal.cost ?? zeroCost,
  fingerprint: base.fingerprint,
  seed: base.seed,
  ...(base.env === undefined ? {} : { env: base.env }),
  startedAt: base.startedAt,
  finishedAt: base.finishedAt,
  ...fields
})

