/**
 * What a report shows, as data: the summary on top (best, gains over the baseline and the
 * gate, keep rate, cost, pace, how to check the best out) and one row per experiment. The
 * HTML report, the live page and `report --json` all read this; it is computed from the
 * journal alone, so it is pure and tested without I/O.
 */
import { bestEntry, type JournalEntry, type MetricSpec } from "@autoresearch/core"

export interface ReportExperiment {
  readonly id: number
  readonly status: JournalEntry["status"]
  readonly flags: ReadonlyArray<string>
  readonly commit: string | null
  readonly parent: string | null
  /** The primary metric, when scored. */
  readonly value: number | null
  /** Its difference to the incumbent the experiment was measured against (in the metric's units; null for the baseline). */
  readonly delta: number | null
  /** The running best after this experiment (the step line of the chart). */
  readonly best: number | null
  /** The secondary metric (e.g. SSIM beside PSNR), when there is one. */
  readonly secondary: number | null
  readonly description: string
  readonly hypothesis: string
  readonly reason: string | null
  readonly costUsd: number
  /** Seconds per phase (propose, commit, prepare, train, predict, score, ...) and the total. */
  readonly seconds: Readonly<Record<string, number>>
  readonly startedAt: string
  readonly finishedAt: string
  readonly reported: Readonly<Record<string, number>>
}

export interface ReportSummary {
  readonly tag: string
  readonly branch: string
  readonly metric: { readonly name: string; readonly direction: "max" | "min" }
  readonly secondary: string | null
  readonly experiments: number
  readonly kept: number
  /** Kept candidates over decided candidates (the baseline not counted); null before any candidate. */
  readonly keepRate: number | null
  readonly best: { readonly id: number; readonly value: number; readonly commit: string | null; readonly checkout: string } | null
  readonly baseline: number | null
  /** Best over the baseline, in the metric's direction (positive is better). */
  readonly gainOverBaseline: number | null
  readonly gate: { readonly name: string; readonly value: number } | null
  readonly gainOverGate: number | null
  readonly costUsd: number
  /** From the first experiment's start to the last one's finish. */
  readonly hours: number
  readonly experimentsPerHour: number | null
  readonly counts: Readonly<Record<string, number>>
  /** What the best experiment's training reported of its throughput (samples/s; TFLOP/s and MFU where counted). */
  readonly throughput: { readonly samplesPerSecond: number; readonly tflops: number | null; readonly mfu: number | null } | null
}

export interface ReportData {
  readonly summary: ReportSummary
  readonly experiments: ReadonlyArray<ReportExperiment>
}

/**
 * The secondary metric to chart against the primary: `val_ssim` beside `val_psnr` when the
 * journal holds it, else the config's first secondary metric that the journal holds.
 */
export const secondaryMetric = (
  entries: ReadonlyArray<JournalEntry>,
  primary: string,
  configured: ReadonlyArray<string> = []
): string | null => {
  const paired = primary.includes("psnr") ? [primary.replace("psnr", "ssim")] : primary.includes("ssim") ? [primary.replace("ssim", "psnr")] : []
  return [...paired, ...configured].find((name) => name !== primary && entries.some((entry) => entry.metrics[name] !== undefined)) ?? null
}

const better = (a: number, b: number, direction: "max" | "min") => (direction === "max" ? a > b : a < b)

export const reportData = (
  entries: ReadonlyArray<JournalEntry>,
  options: { readonly tag: string; readonly branch: string; readonly metric: Pick<MetricSpec, "name" | "direction" | "secondary"> }
): ReportData => {
  const { name, direction } = options.metric
  const sign = direction === "max" ? 1 : -1
  const secondary = secondaryMetric(entries, name, options.metric.secondary ?? [])
  let incumbent: number | null = null
  let running: number | null = null
  const experiments = entries.map((entry): ReportExperiment => {
    const value = entry.metrics[name] ?? null
    const delta = entry.id === 0 || value === null || incumbent === null ? null : value - incumbent
    if (entry.status === "keep" && value !== null) {
      incumbent = value
      if (running === null || better(value, running, direction)) running = value
    }
    return {
      id: entry.id,
      status: entry.status,
      flags: entry.flags,
      commit: entry.commit,
      parent: entry.parent,
      value,
      delta,
      best: running,
      secondary: secondary === null ? null : entry.metrics[secondary] ?? null,
      description: entry.description,
      hypothesis: entry.hypothesis,
      reason: entry.reason ?? null,
      costUsd: entry.cost.usd,
      seconds: entry.seconds,
      startedAt: entry.startedAt,
      finishedAt: entry.finishedAt,
      reported: entry.reported
    }
  })
  const best = bestEntry(entries, options.metric)
  const bestValue = best?.metrics[name]
  const baseline = entries[0]?.metrics[name] ?? null
  const gate = [...entries].reverse().find((entry) => entry.gate !== undefined)?.gate ?? null
  const candidates = entries.filter((entry) => entry.id > 0)
  const kept = candidates.filter((entry) => entry.status === "keep").length
  const times = entries.flatMap((entry) => [Date.parse(entry.startedAt), Date.parse(entry.finishedAt)]).filter(Number.isFinite)
  const hours = times.length === 0 ? 0 : (Math.max(...times) - Math.min(...times)) / 3_600_000
  const counts: Record<string, number> = {}
  for (const entry of entries) counts[entry.status] = (counts[entry.status] ?? 0) + 1
  return {
    summary: {
      tag: options.tag,
      branch: options.branch,
      metric: { name, direction },
      secondary,
      experiments: entries.length,
      kept,
      keepRate: candidates.length === 0 ? null : kept / candidates.length,
      best: best === undefined || bestValue === undefined
        ? null
        : { id: best.id, value: bestValue, commit: best.commit, checkout: `git checkout ${best.commit ?? options.branch}` },
      baseline,
      gainOverBaseline: bestValue === undefined || baseline === null ? null : sign * (bestValue - baseline),
      gate: gate === null ? null : { name: gate.name, value: gate.value },
      gainOverGate: bestValue === undefined || gate === null ? null : sign * (bestValue - gate.value),
      costUsd: entries.reduce((total, entry) => total + entry.cost.usd, 0),
      hours,
      experimentsPerHour: hours > 0 ? entries.length / hours : null,
      counts,
      throughput: best?.reported.samples_per_second === undefined
        ? null
        : { samplesPerSecond: best.reported.samples_per_second, tflops: best.reported.tflops ?? null, mfu: best.reported.mfu ?? null }
    },
    experiments
  }
}
