/**
 * The experiments table that `autoresearch status` and the end of `autoresearch run`
 * print: one row per experiment, the metric's difference to the best, and the best.
 */
import { bestEntry, type JournalEntry, type MetricSpec } from "@autoresearch/core"

const pad = (text: string, width: number) => (text.length >= width ? text : text + " ".repeat(width - text.length))

export const formatMetric = (value: number | undefined) =>
  value === undefined ? "-" : Math.abs(value) >= 1000 || (Math.abs(value) < 0.001 && value !== 0) ? value.toExponential(3) : value.toFixed(4)

export const table = (entries: ReadonlyArray<JournalEntry>, metric: Pick<MetricSpec, "name" | "direction">): string => {
  if (entries.length === 0) return "no experiments yet"
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
      `${(entry.seconds.total ?? 0).toFixed(1)}s`,
      entry.description + (entry.flags.length > 0 ? ` [${entry.flags.join(", ")}]` : "") +
        (entry.status !== "keep" && entry.status !== "discard" && entry.reason ? ` (${entry.reason})` : "")
    ]
  })
  const header = ["id", "commit", "status", metric.name, "vs best", "time", "description"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === cells.length - 1 ? cell : pad(cell, widths[column]!))).join("  ")
  const bestLine = best === undefined
    ? "best: none kept yet"
    : `best: #${best.id} ${metric.name} ${formatMetric(bestValue)} (${metric.direction === "max" ? "higher" : "lower"} is better) at ${best.commit?.slice(0, 7)}: ${best.description}`
  return [line(header), ...rows.map(line), "", bestLine].join("\n")
}
