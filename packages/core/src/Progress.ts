/**
 * Following a research run as text: one plain line per event worth a line (`eventLine`,
 * and `print`, which writes them to stdout: pass it as `onEvent`), and, for a terminal,
 * one live line (experiment, phase, a bar of elapsed time against the train budget,
 * steps/s, best so far) kept by `nextProgress` and drawn by `liveLine`; `stepsPerSecond`
 * reads the latest steps/s from the tail of a train log. Pure but for `print`.
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
  /** The running phase's log, absolute, when the event said where it is. */
  readonly log?: string | undefined
  /** The latest steps/s the running phase's log reported (`withStepsPerSecond`). */
  readonly stepsPerSecond?: number | undefined
}

export const initialProgress: ProgressState = { id: undefined, phase: undefined, phaseStartedMs: 0, budgetSeconds: 0, best: undefined }

/** The state with the running phase's latest steps/s; undefined keeps the one known. */
export const withStepsPerSecond = (state: ProgressState, rate: number | undefined): ProgressState =>
  rate === undefined || state.phase === undefined ? state : { ...state, stepsPerSecond: rate }

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
      return {
        ...state,
        id: event.id >= 0 ? event.id : state.id,
        phase: event.phase,
        phaseStartedMs: nowMs,
        log: event.log,
        stepsPerSecond: undefined
      }
    case "PhaseFinished":
      return { ...state, phase: undefined, log: undefined, stepsPerSecond: undefined }
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

/** Columns the live line keeps within (a terminal's usual 100). */
export const LIVE_WIDTH = 100
const BAR_WIDTH = 20
const MIN_BAR_WIDTH = 8

/** Seconds as the live line shows them: `42s`, `3m05s`, `1h02m`. */
export const formatSeconds = (seconds: number): string => {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 100) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/** A rate as the live line shows it: `31.2 steps/s`, `2143 steps/s`. */
export const formatRate = (rate: number): string => `${rate < 100 ? rate.toFixed(1) : rate.toFixed(0)} steps/s`

/** `[########------------]`: `fraction` (0..1, clamped) of `width` cells filled. */
export const bar = (fraction: number, width: number): string => {
  const filled = Math.round(Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)) * width)
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
}

/**
 * The live line, within `width` columns, e.g.
 * `#3 train [############--------] 12s / 20s, 8s left, 31.2 steps/s | best val_mse 0.2623 (#1)`:
 * a train phase (whose budget is known) gets a bar of its elapsed time against the budget,
 * the time left (`over by 3s` in the grace past it) and the steps/s its log reports; other
 * phases their elapsed seconds. Too long a line loses bar cells, then the bar, then its end.
 */
export const liveLine = (state: ProgressState, nowMs: number, metric: Pick<MetricSpec, "name">, width = LIVE_WIDTH): string => {
  const best = state.best === undefined ? "no best yet" : `best ${metric.name} ${formatMetric(state.best.value)} (#${state.best.id})`
  if (state.phase === undefined) return fit(`${state.id === undefined ? "" : `#${state.id} `}| ${best}`, width)
  const elapsed = Math.max(0, Math.floor((nowMs - state.phaseStartedMs) / 1000))
  const head = `#${state.id ?? "-"} ${state.phase}`
  const rate = state.stepsPerSecond === undefined ? "" : `, ${formatRate(state.stepsPerSecond)}`
  const budget = state.budgetSeconds
  if (state.phase !== "train" || !(budget > 0)) return fit(`${head} ${formatSeconds(elapsed)}${rate} | ${best}`, width)
  const left = elapsed > budget ? `over by ${formatSeconds(elapsed - budget)}` : `${formatSeconds(budget - elapsed)} left`
  const times = `${formatSeconds(elapsed)} / ${formatSeconds(budget)}, ${left}${rate} | ${best}`
  const fixed = head.length + times.length + 2 // the spaces around the bar
  const cells = Math.min(BAR_WIDTH, width - fixed - 2) // the brackets
  return fit(cells >= MIN_BAR_WIDTH ? `${head} ${bar(elapsed / budget, cells)} ${times}` : `${head} ${times}`, width)
}

/** `line`, cut to `width` columns with a final `~` when longer. */
const fit = (line: string, width: number) => (line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}~`)

const NUMBER = String.raw`(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)`
/** Forms whose unit follows the number: complete as soon as the unit is there. */
const UNIT_AFTER = [
  { pattern: new RegExp(String.raw`(?<![\w.])${NUMBER}\s*steps?/s(?:ec)?\b`, "gi"), invert: false },
  { pattern: new RegExp(String.raw`(?<![\w.])${NUMBER}\s*it/s\b`, "gi"), invert: false },
  // tqdm switches to seconds per iteration below 1 it/s
  { pattern: new RegExp(String.raw`(?<![\w.])${NUMBER}\s*s/it\b`, "gi"), invert: true }
]
/** Forms whose number follows its name: complete only once the line ends. */
const NAME_BEFORE = [
  { pattern: new RegExp(String.raw`\bsteps?/s(?:ec)?\s*[:=]?\s*${NUMBER}(?![\d.])`, "gi"), invert: false },
  { pattern: new RegExp(String.raw`\bsteps_per_sec(?:ond)?["']?\s*[:=]?\s*${NUMBER}(?![\d.])`, "gi"), invert: false }
]

/**
 * The latest steps/s that a log's text reports, or undefined: `12.3 steps/s`,
 * `steps/s 12.3`, `steps_per_second: 12.3` or tqdm's `12.3it/s` (and `4.1s/it`). The
 * text is the tail of a log being written: with `cut` (the tail did not start at the
 * file's start) its first line is left out, as the number there may be cut; a last line
 * not yet ended counts only in the forms whose unit follows the number.
 */
export const stepsPerSecond = (text: string, options: { readonly cut?: boolean } = {}): number | undefined => {
  let from = 0
  if (options.cut === true) {
    const first = text.search(/[\r\n]/)
    if (first < 0) return undefined
    from = first + 1
  }
  const lastEnd = Math.max(text.lastIndexOf("\n"), text.lastIndexOf("\r")) + 1
  let latest: { readonly at: number; readonly value: number } | undefined
  const consider = (forms: typeof UNIT_AFTER, until: number) => {
    for (const { invert, pattern } of forms) {
      for (const match of text.slice(0, until).matchAll(pattern)) {
        const at = match.index + match[0].length
        const raw = Number(match[1])
        const value = invert ? 1 / raw : raw
        if (match.index >= from && Number.isFinite(value) && value >= 0 && (latest === undefined || at >= latest.at)) {
          latest = { at, value }
        }
      }
    }
  }
  consider(UNIT_AFTER, text.length)
  consider(NAME_BEFORE, Math.max(from, lastEnd))
  return latest?.value
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
