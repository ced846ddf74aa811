/**
 * What becomes of one experiment, as a pure function of what happened to it: the run's
 * end, the score, the seal difference, the incumbent, the confirmation runs, the keep
 * threshold and the metric. It covers the baseline (kept whenever it ran and scored),
 * the scorer's gate, the integrity flags and the confirmation mean; the loop runs what
 * it asks for and the ratchet moves git by it.
 */
import type { MetricSpec } from "./Config.ts"
import { belowGate, type Flag } from "./Flags.ts"
import type { EntryStatus } from "./JournalEntry.ts"
import { beats, type Decision, keepRule } from "./KeepRule.ts"
import type { RunResult } from "./RunResult.ts"
import type { Score } from "./Score.ts"

export interface DecisionInput {
  /** Experiment 0, the unmodified code: nothing to compare it with. */
  readonly baseline: boolean
  readonly run: Pick<RunResult, "status" | "reason" | "flags">
  readonly score: Score | undefined
  /** Immutable files (or cache entries) the experiment changed: any voids it. */
  readonly sealChanged: ReadonlyArray<string>
  /** The value to beat (see `incumbentValue`), undefined when nothing is kept yet. */
  readonly incumbent: number | undefined
  /**
   * The primary metric of each confirmation run (undefined where one did not score),
   * once they ran; absent before. A keep then counts only if the mean still passes.
   */
  readonly confirmations?: ReadonlyArray<number | undefined>
  /** The keep threshold in force: `metric.minDelta`, or the measured one for `"auto"`. */
  readonly minDelta: number
  readonly metric: Pick<MetricSpec, "name" | "direction">
}

/** A decision (it fits `Decision`) with what the journal records of it. */
export interface Verdict {
  readonly keep: boolean
  /** One line saying why. */
  readonly reason: string
  readonly status: EntryStatus
  /** Every flag for the journal: the runner's, the scorer's (a plug-in's own is `custom:<name>`) and the decision's, once each. */
  readonly flags: ReadonlyArray<Flag>
  /** The metrics to record: the scorer's, the primary one the confirmation mean once confirmed. */
  readonly metrics: Readonly<Record<string, number>>
  /** Confirmation values that scored, when confirmation runs were made. */
  readonly confirmations?: ReadonlyArray<number>
}

/** The journal status of a decided experiment: why it was not kept, when it was not. */
export const entryStatus = (
  run: Pick<RunResult, "status">,
  score: Pick<Score, "status" | "flags"> | undefined,
  decision: Pick<Decision, "keep">
): EntryStatus => {
  if (decision.keep) return "keep"
  switch (run.status) {
    case "crash":
    case "timeout":
    case "oom":
      return run.status
    case "killed":
      return "crash"
    case "ok":
      return score === undefined || score.status === "invalid" || score.flags.includes("immutable-modified") ? "invalid" : "discard"
  }
}

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length

/** The keep rule alone, before any confirmation; for the baseline, whether it ran and scored. */
const firstDecision = (input: DecisionInput, score: Score | undefined): Decision => {
  if (!input.baseline) return keepRule({ runStatus: input.run.status, score }, input.incumbent, { ...input.metric, minDelta: input.minDelta })
  if (input.run.status !== "ok" || score?.status !== "ok") {
    return { keep: false, reason: input.run.reason ?? score?.reason ?? "baseline failed", flags: [] }
  }
  const value = score.metrics[input.metric.name]
  const below = score.gate !== undefined && value !== undefined && !beats(value, score.gate.value, input.metric.direction)
  return { keep: true, reason: "baseline", flags: below ? [belowGate(score.gate!.name)] : [] }
}

export const decide = (input: DecisionInput): Verdict => {
  const sealFlags: ReadonlyArray<Flag> = input.sealChanged.length > 0 ? ["immutable-modified"] : []
  // A changed seal voids the run whatever the scorer said of it.
  const score: Score | undefined = input.sealChanged.length === 0
    ? input.score
    : {
      ...(input.score ?? { metrics: {}, reported: {} }),
      status: "invalid",
      reason: `immutable files changed: ${input.sealChanged.join(", ")}`,
      flags: [...new Set([...(input.score?.flags ?? []), ...sealFlags])]
    }
  let decision = firstDecision(input, score)
  let metrics: Readonly<Record<string, number>> = score?.metrics ?? {}
  let confirmations: ReadonlyArray<number> | undefined
  if (decision.keep && !input.baseline && input.confirmations !== undefined && score !== undefined) {
    const values = [score.metrics[input.metric.name]!, ...input.confirmations.map((value) => value ?? Number.NaN)]
    const confirmed = { ...score, metrics: { ...score.metrics, [input.metric.name]: mean(values) } }
    const second = keepRule({ runStatus: "ok", score: confirmed }, input.incumbent, { ...input.metric, minDelta: input.minDelta })
    if (!second.keep) decision = { ...second, reason: `not confirmed over ${values.length} seeds: ${second.reason}` }
    // A run that did not score fails the mean above; the record keeps the mean of those that did (JSON has no NaN).
    const finite = values.filter(Number.isFinite)
    metrics = { ...score.metrics, [input.metric.name]: mean(finite) }
    confirmations = input.confirmations.filter((value): value is number => value !== undefined && Number.isFinite(value))
  }
  const status = entryStatus(input.run, score, decision)
  return {
    keep: decision.keep,
    status,
    // A run that ended badly says why in its own words; one that ran, in the rule's.
    reason: status === "keep" || input.run.status === "ok" ? decision.reason : (input.run.reason ?? input.run.status),
    flags: [...new Set([...(input.run.flags ?? []), ...(score?.flags ?? []), ...decision.flags])],
    metrics,
    ...(confirmations === undefined ? {} : { confirmations })
  }
}

/** Whether confirmation runs are due: a candidate the rule keeps, when the config asks for them. */
export const needsConfirmation = (verdict: Verdict, input: Pick<DecisionInput, "baseline" | "confirmations">, confirmRuns: number) =>
  verdict.keep && !input.baseline && input.confirmations === undefined && confirmRuns > 0
