/**
 * Following a research run as text: one plain line per event worth a line (`eventLine`,
 * and `print`, which writes them to stdout: pass it as `onEvent`), and, for a terminal,
 * one live line (experiment, phase, elapsed/budget, best so far) kept by `nextProgress`
 * and drawn by `liveLine`. Pure but for `print`.
 */
import type { MetricSpec } from "./Config.ts"
import type { LoopEvent } from "./Events.ts"
import { beats } from "./KeepRule.ts"

/** A metric value as the tables and progress lines show it: 4 decimals, or 3 significant digits in e-notation when far from 1. */
export const formatMetric = (value: number | undefined) =>
  value === undefined ? "-" : Math.abs(value) >= 1000 || (Math.abs(value) < 0.001 && value !== 0) ? value.toExponential(3) : value.toFixed(4)

export interface ProgressState {
  readonly id: number | undefined
  readonly phase: string | undefined
  readonly phaseStartedMs: number
  readonly budgetSeconds: number
  readonly best: { readonly id: number; readonly value: number } | undefined
}

export const initialProgress: ProgressState = { id: undefined, phase: undefined, phaseStartedMs: 0, budgetSeconds: 0, best: undefined }

export const nextProgress = (
  state: ProgressState,
  event: LoopEvent,
  nowMs: number,
  metric: Pick<MetricSpec, "name" | "direction">
): ProgressState => {
  switch (event._tag) {
    case "LoopStarted": {
      // A resumed run shows its best so far from the start.
      const value = event.best?.metrics[metric.name]
      return event.best === undefined || value === undefined ? state : { ...state, best: { id: event.best.id, value } }
    }
    case "ExperimentStarted":
      return { ...state, id: event.id, phase: undefined, budgetSeconds: event.budgetSeconds }
    case "PhaseStarted":
      return { ...state, id: event.id >= 0 ? event.id : state.id, phase: event.phase, phaseStartedMs: nowMs }
    case "PhaseFinished":
      return { ...state, phase: undefined }
    case "Decided": {
      const value = event.entry.metrics[metric.name]
      const better = event.entry.status === "keep" && value !== undefined &&
        (state.best === undefined || beats(value, state.best.value, metric.direction))
      return better ? { ...state, best: { id: event.id, value: value! } } : state
    }
    default:
      return state
  }
}

/** The live line, e.g. `#3 train 12/20s | best val_mse 0.2623 (#1)` (seconds so far / the budget). */
export const liveLine = (state: ProgressState, nowMs: number, metric: Pick<MetricSpec, "name">): string => {
  const best = state.best === undefined ? "no best yet" : `best ${metric.name} ${formatMetric(state.best.value)} (#${state.best.id})`
  if (state.phase === undefined) return `${state.id === undefined ? "" : `#${state.id} `}| ${best}`
  const elapsed = Math.floor((nowMs - state.phaseStartedMs) / 1000)
  const budget = state.phase === "train" ? `/${state.budgetSeconds}s` : "s"
  return `#${state.id ?? "-"} ${state.phase} ${elapsed}${budget} | ${best}`
}

/** A plain line for an event, or undefined for events not worth a line. */
export const eventLine = (event: LoopEvent, metric: Pick<MetricSpec, "name">): string | undefined => {
  switch (event._tag) {
    case "Repaired":
      return `repaired: ${event.what}`
    case "Warned":
      return `warning: ${event.what}`
    case "SetAside":
      return `--fresh: set aside the earlier run: ${event.what}`
    case "Prepared":
      return `data cache ${event.fingerprint}${event.reused ? " (reused)" : ""}`
    case "ExperimentStarted":
      return `#${event.id} ${event.description}`
    case "PhaseFinished":
      return `${event.id < 0 ? "" : `#${event.id} `}${event.phase} finished in ${event.seconds.toFixed(1)} s`
    case "Decided": {
      const value = event.entry.metrics[metric.name]
      const why = event.entry.status === "keep" || event.entry.status === "discard" ? event.decision.reason : event.entry.reason
      return `#${event.id} ${event.entry.status}${value === undefined ? "" : ` ${metric.name}=${formatMetric(value)}`}: ${why ?? ""}`
    }
    case "NoiseRun":
      return `noise run ${event.run}/${event.of} (seed ${event.seed}): ${event.value === undefined ? "failed" : `${metric.name}=${formatMetric(event.value)}`}`
    case "NoiseMeasured":
      return `noise floor: sd ${formatMetric(event.noise.sd)}, MAD ${formatMetric(event.noise.mad)} over ${event.noise.values.length} seeds` +
        (event.threshold === undefined ? "" : `; keep threshold ${formatMetric(event.threshold)}`)
    case "VerifyRun":
      return `verify ${event.role} #${event.id} seed ${event.seed}: validation ${formatMetric(event.validation)}, test ${formatMetric(event.test)}`
    case "LoopFinished":
      return `finished: ${event.reason}`
    case "LoopStarted":
    case "PhaseStarted":
    case "Scored":
    case "Verified":
      return undefined
  }
}

/** For `onEvent`: prints each event's line, if it has one, on stdout. */
export const print = (event: LoopEvent, metric: Pick<MetricSpec, "name">): void => {
  const line = eventLine(event, metric)
  if (line !== undefined) process.stdout.write(`${line}\n`)
}
