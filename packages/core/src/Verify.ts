/**
 * `verify`: trains the best kept commit (or a chosen one) and the baseline again with
 * fresh seeds, scores each on validation and on the test split no experiment saw, judges
 * the result (`Verification.judge`) and records it in the journal's `verify.jsonl`.
 */
import { Clock, Effect } from "effect"
import type { ResolvedConfig } from "./Config.ts"
import * as Environment from "./Environment.ts"
import { LoopEvents } from "./Events.ts"
import { bestEntry, Journal } from "./Journal.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { verifySeed } from "./Noise.ts"
import { Ratchet } from "./Ratchet.ts"
import * as Trials from "./Trials.ts"
import { LoopError, type LoopPaths } from "./Trials.ts"
import { judge, sample, type Verification, type VerifiedCommit } from "./Verification.ts"

export interface VerifyOptions {
  /** A kept commit (a prefix will do); the best kept one by default. */
  readonly commit?: string | undefined
  /** Trainings per commit, each with a fresh seed (at least 1). */
  readonly seeds: number
}

/** The kept entry to verify: the one whose commit starts with `commit`, else the best. */
export const target = (entries: ReadonlyArray<JournalEntry>, config: Pick<ResolvedConfig, "metric">, commit: string | undefined) => {
  if (commit === undefined) return bestEntry(entries, config.metric)
  const matches = entries.filter((entry) => entry.status === "keep" && entry.commit !== null && entry.commit.startsWith(commit))
  return matches.length === 1 ? matches[0] : undefined
}

export const run = Effect.fn("Verify.run")(function*(config: ResolvedConfig, paths: LoopPaths, options: VerifyOptions) {
  if (!Number.isInteger(options.seeds) || options.seeds < 1) {
    return yield* new LoopError({ reason: { _tag: "TooFew", what: "verify seeds", given: options.seeds } })
  }
  const journal = yield* Journal
  const ratchet = yield* Ratchet
  const events = yield* LoopEvents
  const entries = yield* journal.entries
  const baseline = entries[0]
  if (baseline === undefined || baseline.status !== "keep" || baseline.commit === null) {
    return yield* new LoopError({ reason: { _tag: "NothingToVerify", why: "no kept baseline" } })
  }
  const best = target(entries, config, options.commit)
  if (best === undefined || best.commit === null) {
    return yield* new LoopError({
      reason: options.commit === undefined
        ? { _tag: "NothingToVerify", why: "no kept experiment" }
        : { _tag: "NothingToVerify", why: "no such commit", commit: options.commit }
    })
  }
  yield* ratchet.restore
  const trials = yield* Trials.open(config, paths, { fingerprint: baseline.fingerprint, resumed: true })
  const hasTest = Trials.hasTestSplit(paths.cacheDir)
  const env = Environment.probe(config.python)
  const warnings: Array<string> = []
  if (!hasTest) warnings.push("the data cache has no test split (test/inputs): only validation was rerun")
  for (const entry of best.id === baseline.id ? [baseline] : [baseline, best]) {
    const changed = entry.env === undefined ? [] : Environment.differences(entry.env, env)
    if (changed.length > 0) warnings.push(`experiment ${entry.id} ran in another environment (${changed.join("; ")})`)
  }
  const seeds = Array.from({ length: options.seeds }, (_, k) => verifySeed(config.seed, k + 1))
  const name = config.metric.name

  const rerun = (role: "baseline" | "best", entry: JournalEntry) =>
    Effect.gen(function*() {
      yield* ratchet.checkout(entry.commit!)
      const validation: Array<number | undefined> = []
      const test: Array<number | undefined> = []
      for (const seed of seeds) {
        const trial = yield* trials.trial({ id: -1, seed, label: `verify-${entry.id}-seed${seed}`, incumbent: undefined, test: hasTest })
        validation.push(Trials.metricOf(trial, name))
        test.push(Trials.metricOf(trial.test, name))
        yield* events.publish({ _tag: "VerifyRun", role, id: entry.id, seed, validation: validation.at(-1), test: test.at(-1) })
      }
      return {
        role,
        id: entry.id,
        commit: entry.commit!,
        recorded: entry.metrics[name] ?? Number.NaN,
        validation: sample(seeds, validation),
        test: hasTest ? sample(seeds, test) : null
      } satisfies VerifiedCommit
    })

  const rows = yield* Effect.gen(function*() {
    const rows = [yield* rerun("baseline", baseline)]
    if (best.id !== baseline.id) rows.push(yield* rerun("best", best))
    return rows
  }).pipe(Effect.ensuring(Effect.ignore(ratchet.restore)))
  for (const row of rows) {
    if (row.validation === null) warnings.push(`experiment ${row.id}: no rerun scored (see runs/verify-${row.id}-seed*)`)
  }
  const noise = (yield* journal.noise).at(-1)
  const verification: Verification = {
    verifiedAt: new Date(yield* Clock.currentTimeMillis).toISOString(),
    metric: name,
    direction: config.metric.direction,
    rows,
    ...judge(rows, config.metric.direction, noise?.sd),
    env,
    warnings
  }
  yield* journal.appendVerification(verification)
  yield* events.publish({ _tag: "Verified", verification })
  return verification
})
