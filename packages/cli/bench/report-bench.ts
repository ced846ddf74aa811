/**
 * How fast a large report opens: 200 experiments, each with a diff and log tails, every
 * kept one (one in eight here) with three image crops (five panels, four error maps, about
 * the size of real ones), written by the report's own page function and opened from disk in
 * chromium (playwright-core on the system browser). It prints the time from navigation to
 * the page drawn (charts and table), against the 2 s target, and the file's size.
 *
 *   node packages/cli/bench/report-bench.ts [experiments, default 200]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { JournalEntry } from "@autoresearch/core"
import { FalseColour, type Image, Png } from "@autoresearch/metrics"
import { type FullReport, page } from "../src/Report.ts"
import { reportData } from "../src/ReportData.ts"

const count = Number(process.argv[2] ?? 200)
const browserPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((file) => fs.existsSync(file))
if (browserPath === undefined) {
  console.log("report bench skipped: no chromium (Debian: apt-get install chromium)")
  process.exit(0)
}

const statuses = ["keep", "discard", "discard", "discard", "crash", "timeout", "invalid", "discard"] as const
let best = 30
const entries: Array<JournalEntry> = Array.from({ length: count }, (_, id): JournalEntry => {
  const status = id === 0 ? "keep" : statuses[id % statuses.length]!
  const value = status === "crash" || status === "timeout" || status === "invalid" ? undefined : best + (status === "keep" ? 0.05 : -0.1 * ((id * 7) % 5))
  if (status === "keep" && value !== undefined) best = value
  const start = Date.UTC(2026, 0, 1) + id * 660_000
  return {
    id,
    parent: id === 0 ? null : `${(id - 1).toString(16).padStart(40, "0")}`,
    commit: id.toString(16).padStart(40, "0"),
    status,
    metrics: value === undefined ? {} as Record<string, number> : { val_psnr: value, val_ssim: 0.8 + value / 1000, bicubic_psnr: 28 },
    reported: { steps: 1000 + id, steps_per_second: 30 },
    flags: id % 13 === 0 ? ["ssim-drop"] : [],
    description: `experiment ${id}: change the learning rate to ${(1e-3 * (1 + (id % 9))).toExponential(1)}`,
    hypothesis: "A higher learning rate converges faster within the fixed budget. ".repeat(2),
    seconds: { propose: 20, commit: 0.1, train: 600, predict: 8, score: 4, total: 632 },
    cost: { inputTokens: 20_000, outputTokens: 800, cachedTokens: 15_000, usd: 0.03 },
    fingerprint: "f",
    seed: 0,
    startedAt: new Date(start).toISOString(),
    finishedAt: new Date(start + 632_000).toISOString(),
    ...(value === undefined ? {} : { gate: { name: "bicubic", value: 28 } })
  }
})
const diff = (id: number) =>
  `diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -10,7 +10,7 @@\n` +
  Array.from({ length: 3 }, (_, k) => ` context line ${k}\n`).join("") +
  `-LEARNING_RATE = 1e-3\n+LEARNING_RATE = ${(1e-3 * (1 + (id % 9))).toExponential(1)}\n` +
  Array.from({ length: 3 }, (_, k) => ` context line ${k + 3}\n`).join("")
const log = Array.from({ length: 60 }, (_, k) => `step ${k * 100}  loss 0.0${k}  lr 1e-3  ${k}%  30.1 steps/s`).join("\n")
// 48x48 false-colour crops of noisy content, as the scorer keeps them (about the size of real ones).
const crop = (seed: number) => {
  const image: Image.Frame = { height: 48, width: 48, data: new Float32Array(48 * 48) }
  for (let i = 0; i < image.data.length; i++) image.data[i] = 0.5 + 0.3 * Math.sin((i + seed) * 0.13) + 0.1 * Math.sin(i * seed * 0.71)
  return `data:image/png;base64,${Buffer.from(Png.encodePng(FalseColour.falseColour(image, { palette: "inferno", lo: 0, hi: 1 }))).toString("base64")}`
}
const imagesOf = (id: number) => ({
  title: "validation crops, x4",
  range: "value range 0.2 to 0.9 in every panel",
  crops: Array.from({ length: 3 }, (_, k) => ({
    name: `crop ${k}`,
    panels: ["LR input", "bicubic", `this experiment (#${id})`, "baseline model (#0)", "HR target"].map((name, n) => ({
      name,
      image: crop(id * 31 + k * 7 + n),
      ...(n === 4 ? {} : { error: crop(id * 17 + k * 5 + n + 1000) })
    }))
  }))
})
const data: FullReport = {
  ...reportData(entries, { tag: "bench", branch: "autoresearch/bench", metric: { name: "val_psnr", direction: "max" } }),
  details: Object.fromEntries(entries.map((entry) => [
    entry.id,
    {
      ...(entry.id === 0 ? {} : { diff: diff(entry.id) }),
      logs: [{ name: "train.log", tail: log, truncated: true }, { name: "predict.log", tail: "predictions: (48, 96, 96)", truncated: false }],
      ...(entry.status === "keep" ? { images: imagesOf(entry.id) } : {})
    }
  ]))
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-bench-"))
const file = path.join(dir, "report.html")
const builtAt = performance.now()
fs.writeFileSync(file, page(data, { live: false, title: "bench" }))
const buildMs = performance.now() - builtAt
const size = fs.statSync(file).size
const { chromium } = await import("playwright-core")
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] })
const runs: Array<number> = []
for (let k = 0; k < 5; k++) {
  const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const started = Date.now()
  await tab.goto(`file://${file}`)
  // Runs in the page: its globals, not this file's.
  await tab.waitForFunction(`document.body.dataset.experiments === "${count}" && document.querySelectorAll("#experiments tr.row").length === ${count}`)
  runs.push(Date.now() - started)
  await tab.close()
}
await browser.close()
fs.rmSync(dir, { recursive: true, force: true })
runs.sort((a, b) => a - b)
const median = runs[Math.floor(runs.length / 2)]!
console.log(`report of ${count} experiments (${(size / 1e6).toFixed(1)} MB): built in ${buildMs.toFixed(0)} ms; opened in chromium in ${median} ms (median of ${runs.length}: ${runs.join(", ")} ms)`)
console.log(`target 2000 ms: ${(median / 2000).toFixed(2)} of it ${median < 2000 ? "(met)" : "(NOT met)"}`)
