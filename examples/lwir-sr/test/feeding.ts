/**
 * A check of how an example's train.py feeds the device (issue 15), shared by both examples'
 * tests (`feedingTest`): it builds the smoke data cache, runs train.py for a few seconds on the CPU with
 * train.py's own reads of a tensor's value (`item`, `float`, `bool`, `int`, `tolist`,
 * `numpy`: each waits for the GPU) and `torch.from_numpy` counted, and returns the counts
 * with the steps trained. A loop that reads the loss back every step, or builds every batch
 * in numpy, shows up as a count that grows with the steps. (torch's own reads are not
 * counted: AdamW reads its step counters, which live on the host.)
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const harness = `
import json, os, runpy, sys, torch
counts = {"reads": 0, "from_numpy": 0}
def counted(name):
    original = getattr(torch.Tensor, name)
    def read(self, *args):
        if sys._getframe(1).f_code.co_filename.endswith("train.py"):  # train.py's own reads, not torch's
            counts["reads"] += 1
        return original(self, *args)
    setattr(torch.Tensor, name, read)
for name in ("item", "__float__", "__bool__", "__int__", "tolist", "numpy"):
    counted(name)
from_numpy = torch.from_numpy
def counted_from_numpy(array):
    counts["from_numpy"] += 1
    return from_numpy(array)
torch.from_numpy = counted_from_numpy
sys.path.insert(0, os.getcwd())
sys.argv = ["train.py"]
runpy.run_path("train.py", run_name="__main__")
with open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "metrics.json")) as f:
    steps = json.load(f)["steps"]
print("FEEDING " + json.dumps(dict(counts, steps=steps)))
`

export interface Feeding {
  readonly reads: number
  readonly from_numpy: number
  readonly steps: number
  readonly log: string
}

export const measureFeeding = (python: ReadonlyArray<string>, example: string, seconds: number): Feeding => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "feeding-"))
  try {
    const cache = path.join(base, "cache")
    const run = path.join(base, "run")
    fs.mkdirSync(run)
    const env = {
      ...process.env,
      AUTORESEARCH_CACHE_DIR: cache,
      AUTORESEARCH_DATA_DIR: path.join(cache, "train"),
      AUTORESEARCH_RUN_DIR: run,
      AUTORESEARCH_BUDGET_SECONDS: String(seconds),
      AUTORESEARCH_SEED: "0",
      AUTORESEARCH_THREADS: "1"
    }
    const py = (args: ReadonlyArray<string>) =>
      execFileSync(python[0]!, [...python.slice(1), ...args], { cwd: example, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    py(["prepare.py", "--smoke"])
    const log = py(["-c", harness])
    const line = log.split("\n").find((text) => text.startsWith("FEEDING "))
    if (line === undefined) throw new Error(`train.py printed no counts:\n${log}`)
    return { ...JSON.parse(line.slice("FEEDING ".length)), log }
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
}

/**
 * The test both examples run: `seconds` of training read the loss back at most once per
 * `logEvery` steps (and at the end), and load the data with `torch.from_numpy` once, not per
 * batch. `unit` is how train.py's first line names the training set ("pairs", "bursts").
 * Needs a python with torch, numpy and PIL; skips, saying so, without one.
 */
export const feedingTest = (name: string, example: string, options: { readonly seconds: number; readonly logEvery: number; readonly unit: string }) => {
  const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
  describe(`examples/${name} feeding`, () => {
    it.skipIf(!hasTorch)(hasTorch ? "reads the loss back only every LOG_EVERY steps and builds no batch on the host" : "SKIPPED: no python with torch", () => {
      const feeding = measureFeeding(python, example, options.seconds)
      console.log(`${name}: ${feeding.steps} steps, ${feeding.reads} reads of a tensor by train.py, ${feeding.from_numpy} torch.from_numpy calls`)
      expect(feeding.steps).toBeGreaterThan(20)
      expect(feeding.log).toMatch(new RegExp(`training ${options.unit} \\(0\\.\\d\\d GB, on the device\\)`))
      expect(feeding.reads).toBeLessThanOrEqual(2 + Math.floor(feeding.steps / options.logEvery))
      expect(feeding.from_numpy).toBeLessThanOrEqual(3)
    }, 180_000)
  })
}
