/** The report's numbers, from journal entries alone: running best, deltas, gains, keep rate, pace. */
import type { JournalEntry } from "@autoresearch/core"
import { describe, expect, it } from "vitest"
import { reportData, secondaryMetric } from "../src/ReportData.ts"

const entry = (id: number, status: JournalEntry["status"], metrics: Record<string, number>, extra: Partial<JournalEntry> = {}): JournalEntry => ({
  id,
  parent: id === 0 ? null : "p",
  commit: `c${id}`,
  status,
  metrics,
  reported: {},
  flags: [],
  description: `#${id}`,
  hypothesis: "",
  seconds: { train: 10, total: 12 },
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0.25 },
  fingerprint: "f",
  seed: 0,
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, id * 30)).toISOString(),
  finishedAt: new Date(Date.UTC(2026, 0, 1, 0, id * 30 + 29)).toISOString(),
  ...extra
})

const options = { tag: "t", branch: "autoresearch/t", metric: { name: "val_psnr", direction: "max" as const } }

describe("reportData", () => {
  const entries = [
    entry(0, "keep", { val_psnr: 30, val_ssim: 0.8 }, { gate: { name: "bicubic", value: 28 } }),
    entry(1, "discard", { val_psnr: 29.5, val_ssim: 0.79 }),
    entry(2, "keep", { val_psnr: 31, val_ssim: 0.82 }, { gate: { name: "bicubic", value: 28 } }),
    entry(3, "crash", {}, { reason: "exit 1" }),
    entry(4, "discard", { val_psnr: 30.9, val_ssim: 0.7 }, { flags: ["ssim-drop"] }),
    entry(5, "keep", { val_psnr: 31.5, val_ssim: 0.83 }, { gate: { name: "bicubic", value: 28 } })
  ]
  const data = reportData(entries, options)

  it("follows the running best and measures each delta against the incumbent it faced", () => {
    expect(data.experiments.map((row) => row.best)).toEqual([30, 30, 31, 31, 31, 31.5])
    expect(data.experiments.map((row) => row.delta)).toEqual([null, -0.5, 1, null, -0.10000000000000142, 0.5])
    expect(data.experiments.map((row) => row.secondary)).toEqual([0.8, 0.79, 0.82, null, 0.7, 0.83])
  })

  it("sums up: best, gains over the baseline and the gate, keep rate, cost, pace", () => {
    const s = data.summary
    expect(s.best).toEqual({ id: 5, value: 31.5, commit: "c5", checkout: "git checkout c5" })
    expect(s.gainOverBaseline).toBe(1.5)
    expect(s.gate).toEqual({ name: "bicubic", value: 28 })
    expect(s.gainOverGate).toBe(3.5)
    expect(s.kept).toBe(2)
    expect(s.keepRate).toBe(2 / 5)
    expect(s.costUsd).toBe(1.5)
    expect(s.hours).toBeCloseTo((5 * 30 + 29) / 60, 10)
    expect(s.experimentsPerHour).toBeCloseTo(6 / ((5 * 30 + 29) / 60), 10)
    expect(s.counts).toEqual({ keep: 3, discard: 2, crash: 1 })
    expect(s.secondary).toBe("val_ssim")
    expect(s.throughput).toBeNull()
  })

  it("gives the best experiment's throughput where its training reported one", () => {
    const rows = [entry(0, "keep", { val_psnr: 30 }, { reported: { samples_per_second: 250, tflops: 0.08 } })]
    expect(reportData(rows, options).summary.throughput).toEqual({ samplesPerSecond: 250, tflops: 0.08, mfu: null })
  })

  it("reads gains in the metric's direction when lower is better", () => {
    const min = reportData([entry(0, "keep", { loss: 2 }), entry(1, "keep", { loss: 1.5 }), entry(2, "discard", { loss: 1.7 })], {
      ...options,
      metric: { name: "loss", direction: "min" }
    })
    expect(min.summary.gainOverBaseline).toBe(0.5)
    expect(min.experiments.map((row) => row.best)).toEqual([2, 1.5, 1.5])
    expect(min.experiments.map((row) => row.delta)).toEqual([null, -0.5, 0.19999999999999996])
    expect(min.summary.gate).toBeNull()
    expect(min.summary.gainOverGate).toBeNull()
  })

  it("is empty-safe: no experiments, nothing kept yet", () => {
    const empty = reportData([], options)
    expect(empty.summary).toMatchObject({ experiments: 0, kept: 0, keepRate: null, best: null, baseline: null, hours: 0, experimentsPerHour: null })
    const failed = reportData([entry(0, "crash", {})], options)
    expect(failed.summary.best).toBeNull()
    expect(failed.summary.gainOverBaseline).toBeNull()
  })
})

describe("secondaryMetric", () => {
  it("pairs SSIM with PSNR, else takes the config's first that the journal holds", () => {
    const rows = [entry(0, "keep", { val_psnr: 1, val_ssim: 0.5, mean_mse: 2 })]
    expect(secondaryMetric(rows, "val_psnr")).toBe("val_ssim")
    expect(secondaryMetric(rows, "val_ssim")).toBe("val_psnr")
    expect(secondaryMetric(rows, "val_mse", ["absent", "mean_mse"])).toBe("mean_mse")
    expect(secondaryMetric(rows, "val_mse")).toBeNull()
  })
})
