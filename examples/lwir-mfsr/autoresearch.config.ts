import { defineResearch, findPython } from "@autoresearch/core"
import { PsnrGatedScorer } from "@autoresearch/metrics"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

// With a CUDA GPU: the full task (bursts of 8) and 10-minute experiments. Without one (or
// LWIR_SMOKE=1): a CPU-sized task (bursts of 4) and 45-second experiments.
// LWIR_DATA=/path/to/frames synthesises the bursts from real single frames;
// LWIR_SEQUENCES=/path/to/sequences validates on real consecutive frames (no ground truth:
// scored with no-reference measures only). LWIR_FRAMES=N sets the frames per burst.
const gpu = (() => {
  try {
    execFileSync("nvidia-smi", ["-L"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
const smoke = process.env.LWIR_SMOKE === undefined ? !gpu : process.env.LWIR_SMOKE === "1"
const absolute = (name: string) => (process.env[name] ? path.resolve(process.env[name]) : undefined)
const data = absolute("LWIR_DATA")
const sequences = absolute("LWIR_SEQUENCES")
const frames = process.env.LWIR_FRAMES

// What `autoresearch promote` wrote (a phase-1 backbone and its provenance) is part of the frozen pipeline.
const here = import.meta.dirname
const promoted = (dir: string): Array<string> =>
  fs.existsSync(path.join(here, dir))
    ? fs.readdirSync(path.join(here, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? promoted(path.join(dir, entry.name)) : [path.join(dir, entry.name)]
    )
    : []

const scorer = sequences === undefined
  ? { references: { shift_add: "hidden/shift_add.npy" }, verdict: "verdict.json", inputLabel: "burst reference frame" }
  : { targets: null, scale: 4, verdict: "verdict.json" }

export default defineResearch({
  name: "lwir-mfsr",
  python: findPython(["torch", "numpy", "PIL"]),
  mutable: ["train.py"],
  immutable: ["prepare.py", "mfsr.py", ...promoted("promoted")],
  program: "program.md",
  sources: [data, sequences].filter((source) => source !== undefined),
  phases: {
    prepare: [
      "prepare.py",
      ...(smoke ? ["--smoke"] : []),
      ...(frames === undefined ? [] : ["--frames", frames]),
      ...(data === undefined ? [] : ["--data", data]),
      ...(sequences === undefined ? [] : ["--sequences", sequences])
    ],
    train: ["train.py"],
    // The encoder predict builds: phase 1's promoted backbone only when the promotion is committed (and so sealed).
    predict: ["prepare.py", "predict", ...(promoted("promoted").includes(path.join("promoted", "model.pt")) ? ["--promoted"] : [])]
  },
  // The keep threshold is twice the measured spread of the baseline over its noise runs (docs/trust.md).
  metric: { ...PsnrGatedScorer.metricSpec(scorer), minDelta: "auto" },
  budget: smoke
    ? { experimentSeconds: 45, graceSeconds: 30, maxExperiments: 3, vramGb: 16, noiseRuns: 3, verifySeeds: 1 }
    : { experimentSeconds: 600, graceSeconds: 120, maxExperiments: 100, vramGb: 16, noiseRuns: 4, verifySeeds: 2 },
  scorer: PsnrGatedScorer.layer(scorer)
})
