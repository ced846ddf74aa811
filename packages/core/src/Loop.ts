/**
 * The research loop: prepare the data once, run the unmodified baseline as experiment 0,
 * then propose, commit, train, predict, score, decide and record, until a budget runs
 * out or the proposer has nothing left. It only orchestrates: `decide` (Decision.ts)
 * says what becomes of each experiment, the Ratchet moves git, Trials train and score.
 * It resumes from git and the journal: an experiment cut short is run again, and none
 * is recorded twice. With `budget.workers` above 1, parallel workers (Workers.ts) run
 * everything after the baseline and the noise floor.
 */
import { Clock, Effect } from "effect"
import { budgetLeft, stopReason } from "./Budgets.ts"
import type { ResolvedConfig } from "./Config.ts"
import * as Environment from "./Environment.ts"
import { LoopEvents } from "./Events.ts"
import { bestEntry, Journal } from "./Journal.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { LoopError } from "./LoopError.ts"
import { incumbentValue, type NoiseFloor, noiseSeed, spread, threshold } from "./Noise.ts"
import type { Proposal } from "./Proposal.ts"
import { Proposer } from "./Proposer.ts"
import { Ratchet } from "./Ratchet.ts"
import * as Trials from "./Trials.ts"
import { entryOf, lastFailure, measureCandidate, type OpenedTrials, timer } from "./Candidate.ts"
import type { LoopPaths } from "./Trials.ts"
import { Workspace } from "./Workspace.ts"
import * as Workers from "./Workers.ts"

export { ImmutableModified, type LoopPaths } from "./Trials.ts"
export { LoopError, type LoopErrorReason } from "./LoopError.ts"

export interface LoopSummary {
  readonly reason: string
  readonly ran: number
  readonly best: JournalEntry | undefined
  readonly entries: ReadonlyArray<JournalEntry>
}

/**
 * Trains the checked-out commit `runs` times with noise seeds and records the spread of
 * the primary metric. `first`, when given, is a run already made (the baseline's, with
 * the run's own seed), counted as one of the `runs`.
 */
const measureNoise = Effect.fnUntraced(function*(
  config: ResolvedConfig,
  trials: OpenedTrials,
  options: { readonly commit: string; readonly runs: number; readonly first?: { readonly seed: number; readonly value: number } }
) {
  const journal = yield* Journal
  const events = yield* LoopEvents
  const seeds: Array<number> = []
  const values: Array<number> = []
  if (options.first !== undefined) {
    seeds.push(options.first.seed)
    values.push(options.first.value)
  }
  const failed: Array<string> = []
  for (let k = 1; seeds.length + failed.length < options.runs; k++) {
    const seed = noiseSeed(config.seed, k)
    const trial = yield* trials.trial({ id: -1, seed, label: `noise-seed${seed}`, incumbent: undefined })
    const value = Trials.metricOf(trial, config.metric.name)
    yield* events.publish({ _tag: "NoiseRun", run: seeds.length + failed.length + 1, of: options.runs, seed, value })
    if (value === undefined) failed.push(`seed ${seed}: ${trial.result.reason ?? trial.score?.reason ?? trial.result.status}`)
    else {
      seeds.push(seed)
      values.push(value)
    }
  }
  if (values.length < 2) {
    return yield* new LoopError({ reason: { _tag: "NoiseFailed", runs: options.runs, failed } })
  }
  const noise: NoiseFloor = {
    commit: options.commit,
    metric: config.metric.name,
    seeds,
    values,
    ...spread(values),
    measuredAt: new Date(yield* Clock.currentTimeMillis).toISOString()
  }
  yield* journal.appendNoise(noise)
  yield* events.publish({ _tag: "NoiseMeasured", noise, threshold: threshold(config.metric.minDelta, noise) })
  return noise
})

/**
 * Measures the noise floor on demand (`autoresearch noise`): trains the research branch's
 * head (the baseline before any experiment, else the incumbent) `runs` times with noise
 * seeds, and records it; a run with `minDelta: "auto"` keeps by the latest one.
 */
export const noise = Effect.fn("Loop.noise")(function*(config: ResolvedConfig, paths: LoopPaths, runs: number) {
  if (!Number.isInteger(runs) || runs < 2) return yield* new LoopError({ reason: { _tag: "TooFew", what: "noise runs", given: runs } })
  const ratchet = yield* Ratchet
  const journal = yield* Journal
  const entries = yield* journal.entries
  yield* ratchet.restore
  const trials = yield* Trials.open(config, paths, { fingerprint: entries[0]?.fingerprint, resumed: entries.length > 0 })
  return yield* measureNoise(config, trials, { commit: yield* ratchet.head, runs })
})

const isWorkerPaths = (paths: LoopPaths | Workers.WorkerPaths): paths is Workers.WorkerPaths =>
  "repoRoot" in paths && "relative" in paths && "worktree" in paths && "branch" in paths

export const run = Effect.fn("Loop.run")(function*(config: ResolvedConfig, paths: LoopPaths | Workers.WorkerPaths) {
  const proposer = yield* Proposer
  const ratchet = yield* Ratchet
  const workspace = yield* Workspace
  const journal = yield* Journal
  const events = yield* LoopEvents
  const startedMs = yield* Clock.currentTimeMillis

  /** Without a kept baseline nothing can be compared: the run stops and says how to go on. */
  const baselineFailed = (what: string) =>
    new LoopError({ reason: { _tag: "BaselineFailed", what, train: config.phases.train } })

  // Resume: put the branch back on the journal's incumbent; a candidate cut short is set aside.
  let entries = [...(yield* journal.entries)]
  const baseline = entries[0]
  if (baseline !== undefined && baseline.status !== "keep") {
    return yield* baselineFailed(`of this research run failed (${baseline.reason ?? baseline.status})`)
  }
  const lastKept = () => [...entries].reverse().find((entry) => entry.status === "keep")
  const head = yield* ratchet.head
  const incumbentCommit = lastKept()?.commit
  if (incumbentCommit && head !== incumbentCommit) {
    yield* ratchet.setAside(`interrupted/${entries.length}-${head.slice(0, 12)}`, head, incumbentCommit)
  }
  yield* ratchet.restore
  yield* events.publish({ _tag: "LoopStarted", experiments: entries.length, best: bestEntry(entries, config.metric) })

  const trials = yield* Trials.open(config, paths, { fingerprint: entries[0]?.fingerprint, resumed: entries.length > 0 })
  const dataFingerprint = trials.dataFingerprint
  const env = Environment.probe(config.python)

  // The noise floor: measured once, when the first candidate is about to be judged by it.
  let noise = (yield* journal.noise).at(-1)
  const measure = (entry: JournalEntry) => {
    const value = entry.metrics[config.metric.name]
    // The baseline's own run counts as one; a confirmed keep's value is a mean, so it does not.
    const first = entry.id === 0 && value !== undefined ? { seed: entry.seed, value } : undefined
    return measureNoise(config, trials, { commit: entry.commit!, runs: config.budget.noiseRuns, ...(first === undefined ? {} : { first }) })
  }

  let ran = 0
  const spentUsd = () => entries.reduce((sum, entry) => sum + entry.cost.usd, 0)
  const finish = (reason: string) =>
    Effect.gen(function*() {
      const best = bestEntry(entries, config.metric)
      yield* events.publish({ _tag: "LoopFinished", reason, best })
      return { reason, ran, best, entries } satisfies LoopSummary
    })

  while (true) {
    const now = yield* Clock.currentTimeMillis
    const spent = { experiments: entries.length, elapsedSeconds: (now - startedMs) / 1000, usd: spentUsd() }
    const stop = stopReason(config.budget, spent)
    if (stop !== undefined) return yield* finish(stop)

    const id = entries.length
    if (id > 0 && noise === undefined && config.budget.noiseRuns >= 2) noise = yield* measure(lastKept()!)
    // Past the baseline and the noise floor, parallel workers take over; also to finish what a parallel run had in flight.
    if (id > 0 && ((config.budget.workers ?? 1) > 1 || (yield* journal.started).some((start) => !entries.some((entry) => entry.id === start.id)))) {
      if (!isWorkerPaths(paths)) {
        return yield* new LoopError({ reason: { _tag: "WorkersNeedRepository", workers: config.budget.workers ?? 1 } })
      }
      const parallel = yield* Workers.run({ config, paths, entries, noise, dataFingerprint, env, startedMs })
      entries = [...parallel.entries]
      ran += parallel.ran
      return yield* finish(parallel.reason)
    }
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const seconds: Record<string, number> = {}
    const timed = timer(seconds)
    const parent = yield* ratchet.head
    const incumbent = lastKept()
    const incumbentMetric = incumbentValue(incumbent, config.metric.name, noise)
    const minDelta = threshold(config.metric.minDelta, noise) ?? 0
    const rule = { ...config.metric, minDelta }

    let proposal: Proposal = { description: "baseline", hypothesis: "the unmodified code", edits: [] }
    if (id > 0) {
      const files = yield* workspace.files
      const context = {
        program: yield* workspace.program,
        files,
        journal: entries,
        metric: rule,
        lastFailure: lastFailure(entries),
        left: budgetLeft(config.budget, spent),
        // Against the files the proposal is made on, which stay its base while a prefetched one waits.
        check: (edits: Proposal["edits"]) => Effect.asVoid(workspace.check(edits, files))
      }
      const proposed = yield* timed("propose", proposer.propose(context)).pipe(
        Effect.catchTag("ProposerExhausted", () => Effect.succeed(undefined))
      )
      if (proposed === undefined) return yield* finish(`proposer ${proposer.name} has nothing more to propose`)
      proposal = proposed
    }
    yield* events.publish({
      _tag: "ExperimentStarted",
      id,
      description: proposal.description,
      budgetSeconds: config.budget.experimentSeconds
    })

    const record = (fields: Partial<JournalEntry> & Pick<JournalEntry, "status" | "commit">) =>
      Effect.gen(function*() {
        const finishedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        const entry = entryOf({
          id,
          parent: id === 0 ? null : parent,
          proposal,
          seconds,
          fingerprint: dataFingerprint,
          seed: config.seed,
          env,
          startedAt,
          finishedAt
        }, fields)
        yield* journal.append(entry)
        entries = [...entries, entry]
        ran++
        return entry
      })

    if (id > 0) {
      const rejected = proposal.invalid !== undefined
        ? `no valid proposal: ${proposal.invalid}`
        : yield* timed("apply", workspace.apply(proposal.edits)).pipe(
          Effect.as(undefined),
          Effect.catch((error) => Effect.succeed(`edit rejected: ${error.message}`))
        )
      if (rejected !== undefined) {
        yield* ratchet.restore
        const entry = yield* record({ status: "invalid", commit: null, reason: rejected })
        yield* events.publish({ _tag: "Decided", id, decision: { keep: false, status: "invalid", reason: entry.reason!, flags: [], metrics: {} }, entry })
        continue
      }
    }
    const commit = id === 0 ? parent : yield* timed("commit", ratchet.commit(`autoresearch #${id}: ${proposal.description}`))

    const { decision, result, fields } = yield* measureCandidate(config, trials, {
      id,
      incumbent,
      incumbentMetric,
      minDelta,
      seconds,
      beforeConfirm: ratchet.restore
    })
    if (id > 0) yield* timed(decision.keep ? "keep" : "discard", decision.keep ? ratchet.keep : ratchet.discard(id, commit, parent))
    const entry = yield* record({ commit, ...fields })
    yield* events.publish({ _tag: "Decided", id, decision, entry })
    if (id === 0 && !decision.keep) {
      return yield* baselineFailed(`failed: ${entry.reason}; log: ${result.phases.at(-1)?.logPath ?? "-"}`)
    }
  }
})
