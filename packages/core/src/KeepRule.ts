/**
 * The keep rule, as a pure function: keep a candidate only if it ran to the end inside
 * its budget, carries no integrity flag, beats the task's baseline gate, and beats the
 * incumbent by more than `minDelta`. `decide` (Decision.ts) applies it to an experiment,
 * with the baseline, the seal and the confirmation runs.
 */
import { Schema } from "effect"
import type { MetricSpec } from "./Config.ts"
import { belowGate, Flag, isIntegrityFlag } from "./Flags.ts"
import type { RunStatus } from "./RunResult.ts"
import type { Score } from "./Score.ts"

export interface Candidate {
  readonly runStatus: RunStatus
  readonly score: Score | undefined
}

export const Decision = Schema.Struct({
  keep: Schema.Boolean,
  /** One line saying why. */
  reason: Schema.String,
  /** Flags for a human that do not change the decision (e.g. `below-bicubic` on the baseline). */
  flags: Schema.Array(Flag)
})
export type Decision = typeof Decision.Type

/** True when `a` is better than `b` by more than `delta` in the metric's direction. */
export const beats = (a: number, b: number, direction: "max" | "min", delta = 0): boolean =>
  direction === "max" ? a - b > delta : b - a > delta

/** What the keep rule compares: the metric, its direction, and the threshold in force (a number, `"auto"` resolved). */
export interface KeepThreshold extends Pick<MetricSpec, "name" | "direction"> {
  readonly minDelta?: number | undefined
}

export const keepRule = (
  candidate: Candidate,
  incumbent: number | undefined,
  metric: KeepThreshold
): Decision => {
  const { score } = candidate
  if (candidate.runStatus !== "ok") return { keep: false, reason: `run ended with ${candidate.runStatus}`, flags: [] }
  if (score === undefined || score.status !== "ok") {
    return { keep: false, reason: score?.reason ?? "not scored", flags: [] }
  }
  const voiding = score.flags.filter(isIntegrityFlag)
  if (voiding.length > 0) return { keep: false, reason: `integrity: ${voiding.join(", ")}`, flags: [] }
  const value = score.metrics[metric.name]
  if (value === undefined || !Number.isFinite(value)) {
    return { keep: false, reason: `the scorer gave no finite ${metric.name}`, flags: [] }
  }
  if (score.gate !== undefined && !beats(value, score.gate.value, metric.direction)) {
    return {
      keep: false,
      reason: `${metric.name} ${value.toFixed(4)} does not beat ${score.gate.name} ${score.gate.value.toFixed(4)}`,
      flags: [belowGate(score.gate.name)]
    }
  }
  if (incumbent === undefined) return { keep: true, reason: "first scored experiment", flags: [] }
  const delta = metric.minDelta ?? 0
  if (!beats(value, incumbent, metric.direction, delta)) {
    return {
      keep: false,
      reason: `${metric.name} ${value.toFixed(4)} vs incumbent ${incumbent.toFixed(4)}: not better by more than ${delta}`,
      flags: []
    }
  }
  return { keep: true, reason: `${metric.name} ${value.toFixed(4)} beats incumbent ${incumbent.toFixed(4)}`, flags: [] }
}
