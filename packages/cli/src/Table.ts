/**
 * The tables `autoresearch status`, `run` and `verify` print: one row per experiment with
 * the metric's difference to the best and, for each keep, its gain in units of the noise
 * floor; the noise floor itself; and a verification's validation/test table.
 */
import {
  bestEntry,
  confidence,
  Environment,
  incumbentValue,
  type JournalEntry,
  type MetricSpec,
  type NoiseFloor,
  type Sample,
  Progress,
  threshold,
  type Verification
} from "@autoresearch/core"

const pad = (text: string, width: number) => (text.length >= width ? text : text + " ".repeat(width - text.length))

export const formatMetric = Progress.formatMetric

const signed = (value: number) => (value >= 0 ? "+" : "") + formatMetric(value)

/**
 * Each kept experiment's gain over the incumbent it beat (in the metric's direction),
 * by id; the incumbent counts as the noise floor's mean when that was measured on it.
 */
export const keptGains = (
  entries: ReadonlyArray<JournalEntry>,
  metric: Pick<MetricSpec, "name" | "direction">,
  noise: NoiseFloor | undefined
): Map<number, number> => {
  const gains = new Map<number, number>()
  let incumbent: JournalEntry | undefined
  for (const entry of entries) {
    if (entry.status !== "keep") continue
    const value = entry.metrics[metric.name]
    const before = incumbentValue(incumbent, metric.name, noise)
    if (value !== undefined && before !== undefined) gains.set(entry.id, (metric.direction === "max" ? 1 : -1) * (value - before))
    incumbent = entry
  }
  return gains
}

/** The noise floor in one line, with the keep threshold it gives. */
export const noiseLine = (noise: NoiseFloor | undefined, metric: Pick<MetricSpec, "name"> & { readonly minDelta?: number | "auto" | undefined }) => {
  const rule = metric.minDelta ?? 0
  const keep = threshold(rule, noise)
  const keepText = keep === undefined ? "" : `; keep threshold ${formatMetric(keep)}${rule === "auto" ? " (auto: 2 sd)" : " (configured)"}`
  return noise === undefined
    ? `noise floor: not measured yet (budget.noiseRuns measures it before the first candidate; autoresearch noise on demand)${keepText}`
    : `noise floor: sd ${formatMetric(noise.sd)}, MAD ${formatMetric(noise.mad)} over ${noise.values.length} seeds of ${noise.commit.slice(0, 7)}${keepText}`
}

export const table = (
  entries: ReadonlyArray<JournalEntry>,
  metric: Pick<MetricSpec, "name" | "direction">,
  noise?: NoiseFloor
): string => {
  if (entries.length === 0) return "no experiments yet"
  const gains = keptGains(entries, metric, noise)
  const best = bestEntry(entries, metric)
  const bestValue = best?.metrics[metric.name]
  const rows = entries.map((entry) => {
    const value = entry.metrics[metric.name]
    const delta = value === undefined || bestValue === undefined ? "" : (value - bestValue >= 0 ? "+" : "") + formatMetric(value - bestValue)
    return [
      String(entry.id),
      entry.commit?.slice(0, 7) ?? "-",
      entry.status,
      formatMetric(value),
      delta,
      (() => {
        const gain = gains.get(entry.id)
        const inMads = gain === undefined ? undefined : confidence(gain, noise)
        return inMads === undefined ? "" : `${inMads.toFixed(1)}`
      })(),
      `${(entry.seconds.total ?? 0).toFixed(1)}s`,
      entry.description + (entry.flags.length > 0 ? ` [${entry.flags.join(", ")}]` : "") +
        (entry.status !== "keep" && entry.status !== "discard" && entry.reason ? ` (${entry.reason})` : "")
    ]
  })
  // Throughput, where the training reports it (the bundled examples do): samples/s, and MFU on a known GPU.
  const rate = (entry: JournalEntry) => entry.reported.samples_per_second
  const mfu = (entry: JournalEntry) => entry.reported.mfu
  const throughput = [
    ...(entries.some((entry) => rate(entry) !== undefined)
      ? [{ title: "samples/s", cell: (entry: JournalEntry) => (rate(entry) === undefined ? "" : rate(entry)!.toFixed(rate(entry)! >= 100 ? 0 : 1)) }]
      : []),
    ...(entries.some((entry) => mfu(entry) !== undefined)
      ? [{ title: "MFU", cell: (entry: JournalEntry) => (mfu(entry) === undefined ? "" : `${(100 * mfu(entry)!).toFixed(1)}%`) }]
      : [])
  ]
  rows.forEach((row, k) => row.splice(7, 0, ...throughput.map((column) => column.cell(entries[k]!))))
  const header = ["id", "commit", "status", metric.name, "vs best", "gain/MAD", "time", ...throughput.map((column) => column.title), "description"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : pad(cell, widths[column]!))).join("  ")
  const bestLine = best === undefined
    ? "best: none kept yet"
    : `best: #${best.id} ${metric.name} ${formatMetric(bestValue)} (${metric.direction === "max" ? "higher" : "lower"} is better) at ${best.commit?.slice(0, 7)}: ${best.description}`
  return [line(header), ...rows.map(line), "", bestLine].join("\n")
}

const describeSample = (one: Sample | null) =>
  one === null
    ? "-"
    : `${formatMetric(one.mean)}${one.values.length > 1 ? ` ± ${formatMetric(one.sd)}` : ""}${one.failed.length > 0 ? ` (${one.failed.length} failed)` : ""}`

/** A verification as a table: recorded, validation and test (mean ± sd over seeds), their gap, and the verdicts. */
export const verifyTable = (verification: Verification): string => {
  const seeds = Math.max(...verification.rows.map((row) => (row.validation?.seeds.length ?? 0) + (row.validation?.failed.length ?? 0)))
  const rows = verification.rows.map((row) => [
    row.role === "baseline" ? "baseline #0" : `best #${row.id}`,
    row.commit.slice(0, 7),
    formatMetric(row.recorded),
    describeSample(row.validation),
    describeSample(row.test),
    row.validation === null || row.test === null ? "-" : signed(row.validation.mean - row.test.mean)
  ])
  const header = ["", "commit", "recorded", "validation", "test", "val - test"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, column) => pad(cell, widths[column]!)).join("  ").trimEnd()
  const best = verification.rows.find((row) => row.role === "best") ?? verification.rows[0]!
  const verdicts = [
    verification.reproduces === null
      ? "reproduces: cannot tell (no spread known: measure the noise floor, or verify with 2 seeds or more)"
      : `reproduces: ${verification.reproduces ? "yes" : "NO"} (validation ${formatMetric(best.validation?.mean)} vs recorded ${formatMetric(best.recorded)}, tolerance ${formatMetric(verification.tolerance ?? undefined)} = 2 sd)`,
    verification.testGain === null
      ? "test gain over the baseline: -"
      : `test gain over the baseline: ${signed(verification.testGain)} (${verification.testGainReal === null ? "cannot tell without a spread" : verification.testGainReal ? "real: more than twice its standard error" : "NOT more than twice its standard error"})`
  ]
  return [
    `verify ${verification.metric} (${verification.direction === "max" ? "higher" : "lower"} is better), ${seeds} fresh seed${seeds === 1 ? "" : "s"} each, ${Environment.describe(verification.env)}`,
    line(header),
    ...rows.map(line),
    ...verdicts,
    ...verification.warnings.map((warning) => `warning: ${warning}`)
  ].join("\n")
}
