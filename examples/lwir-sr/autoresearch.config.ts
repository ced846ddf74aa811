import { defineResearch, findPython } from "@autoresearch/core"
import { PsnrGatedScorer } from "@autoresearch/metrics"
import { execFileSync } from "node:child_process"
import * as path from "node:path"

// With a CUDA GPU: the full task and 10-minute experiments. Without one (or LWIR_SMOKE=1):
// a CPU-sized task and 45-second experiments. LWIR_DATA=/path/to/frames uses real data.
const gpu = (() => {
  try {
    execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
const smoke = process.env.LWIR_SMOKE === undefined ? !gpu : process.env.LWIR_SMOKE === "1"
const data = process.env.LWIR_DATA ? path.resolve(process.env.LWIR_DATA) : undefined

export default defineResearch({
  name: "lwir-sr",
  python: findPython(["torch", "numpy", "PIL"]),
  mutable: ["train.py"],
  immutable: ["prepare.py"],
  program: "program.md",
  ...(data === undefined ? {} : { sources: [data] }),
  phases: {
    prepare: ["prepare.py", ...(smoke ? ["--smoke"] : []), ...(data === undefined ? [] : ["--data", data])],
    train: ["train.py"],
    predict: ["prepare.py", "predict"]
  },
  // The keep threshold is twice the measured spread of the baseline over its noise runs (docs/trust.md).
  metric: { ...PsnrGatedScorer.metricSpec(), minDelta: "auto" },
  budget: smoke
    ? { experimentSeconds: 45, graceSeconds: 30, maxExperiments: 3, vramGb: 16, noiseRuns: 3, verifySeeds: 1 }
    : { experimentSeconds: 600, graceSeconds: 120, maxExperiments: 100, vramGb: 16, noiseRuns: 4, verifySeeds: 2 },
  scorer: PsnrGatedScorer.layer()
})
