/**
 * The frozen pipeline's parts, run by themselves with the real python: the registration
 * recovers known sub-pixel shifts, every fusion choice of train.py saves and loads through
 * the trusted predict step, and files the experiment planted in its run directory (a FIFO,
 * links) neither hang predict nor redirect its writes. Skips, saying so, without a python
 * that has torch, numpy and PIL.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const example = path.resolve(import.meta.dirname, "..")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-mfsr-pipeline-"))
const cache = path.join(base, "cache")
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

const py = (args: Array<string>, env: Record<string, string> = {}, cwd = example) =>
  spawnSync(python[0]!, [...python.slice(1), ...args], { cwd, env: { ...process.env, ...env }, encoding: "utf8", timeout: 300_000 })

const skipped = `SKIPPED: no python with torch, numpy and PIL (tried ${python.join(" ")}); Debian: apt-get install python3-torch python3-numpy python3-pil`
const title = (what: string) => (hasTorch ? what : skipped)

/** train.py with its constants replaced, e.g. `{ FUSION: '"max"' }`. */
const trainWith = (constants: Record<string, string>) => {
  let text = fs.readFileSync(path.join(example, "train.py"), "utf8")
  for (const [name, value] of Object.entries(constants)) {
    text = text.replace(new RegExp(`^${name} = [^ #\\n]+`, "m"), `${name} = ${value}`)
    expect(text, name).toContain(`\n${name} = ${value} `)
  }
  return text
}

/** Trains for a second and predicts; returns predict's verdict and output. */
const trainAndPredict = (name: string, train: string, plant?: (run: string) => void) => {
  const dir = path.join(base, name)
  const run = path.join(dir, "run")
  fs.mkdirSync(run, { recursive: true })
  for (const file of ["prepare.py", "mfsr.py"]) fs.copyFileSync(path.join(example, file), path.join(dir, file))
  fs.writeFileSync(path.join(dir, "train.py"), train)
  const env = {
    AUTORESEARCH_DATA_DIR: path.join(cache, "train"),
    AUTORESEARCH_INPUTS_DIR: path.join(cache, "inputs"),
    AUTORESEARCH_RUN_DIR: run,
    AUTORESEARCH_BUDGET_SECONDS: "1"
  }
  const trained = py(["train.py"], env, dir)
  expect(trained.status, trained.stderr).toBe(0)
  plant?.(run)
  const predicted = py(["prepare.py", "predict"], env, dir)
  expect(predicted.status, predicted.stderr).toBe(0)
  return { run, output: predicted.stdout, verdict: JSON.parse(fs.readFileSync(path.join(run, "verdict.json"), "utf8")) }
}

describe("examples/lwir-mfsr pipeline", () => {
  beforeAll(() => {
    if (!hasTorch) return
    const built = py(["prepare.py", "--smoke", "--frames", "3"], { AUTORESEARCH_CACHE_DIR: cache, AUTORESEARCH_SEED: "0" })
    expect(built.status, built.stderr).toBe(0)
  }, 300_000)

  it.skipIf(!hasTorch)(title("registration recovers known sub-pixel shifts of a synthetic scene"), () => {
    const script = `
import numpy as np, torch, prepare, mfsr
errors = []
for seed in range(8):
    scene = torch.from_numpy(prepare.normalise(prepare.synthetic_scene(np.random.default_rng(seed))))[None, None]
    true = np.random.default_rng(seed).uniform(-2, 2, (4, 2)); true[0] = 0
    frames = []
    for dx, dy in true:  # frame k at x shows the reference at x + d, so the shift found is -d
        flow = torch.zeros(1, 2, *scene.shape[2:]); flow[:, 0] = dx * prepare.SCALE; flow[:, 1] = dy * prepare.SCALE
        frames.append(prepare.blur_and_decimate(mfsr.warp(scene, flow))[0, 0, 16:48, 24:56])
    found = mfsr.global_shifts(torch.stack(frames)[None])[0].numpy()
    assert np.abs(found[0]).max() < 1e-6, found
    errors.extend(np.abs(found + true)[1:].ravel())
errors = np.array(errors)
print(f"median error {np.median(errors):.3f}, max {errors.max():.3f} LR px over {len(errors)} shifts")
assert np.median(errors) < 0.15 and errors.max() < 0.5
`
    const result = py(["-c", script])
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0)
    console.log(`registration: ${result.stdout.trim()}`)
  }, 120_000)

  it.skipIf(!hasTorch)(title("every fusion choice saves and loads through the trusted predict step"), () => {
    for (const fusion of ["softmax", "mean", "max", "recursive", "transformer"]) {
      const { run, verdict, output } = trainAndPredict(fusion, trainWith({ FUSION: `"${fusion}"`, ANCHOR: '"mean"', FRAME_SHARE: "0.5" }))
      expect(verdict, fusion).toEqual({ status: "ok" })
      expect(output).toContain("from 2 of 3 frames; default encoder")
      const shape = execFileSync(python[0]!, [...python.slice(1), "-c", `import numpy; print(numpy.load("${run}/predictions.npy").shape)`], { encoding: "utf8" })
      expect(shape.trim()).toBe("(48, 96, 96)")
    }
  }, 600_000)

  it.skipIf(!hasTorch)(title("a FIFO or a link the experiment planted neither hangs predict nor redirects its writes"), () => {
    const outside = path.join(base, "outside.txt")
    fs.writeFileSync(outside, "untouched")
    const fifo = trainAndPredict("fifo", fs.readFileSync(path.join(example, "train.py"), "utf8"), (run) => {
      fs.rmSync(path.join(run, "pipeline.json"))
      execFileSync("mkfifo", [path.join(run, "pipeline.json")])
    })
    expect(fifo.verdict).toEqual({ status: "invalid", reason: "pipeline.json is not a regular file" })
    const linked = trainAndPredict("links", fs.readFileSync(path.join(example, "train.py"), "utf8"), (run) => {
      for (const name of ["predictions.npy", "verdict.json", "metrics.json"]) {
        fs.rmSync(path.join(run, name), { force: true })
        fs.symlinkSync(outside, path.join(run, name))
      }
    })
    expect(linked.verdict).toEqual({ status: "ok" })
    expect(fs.readFileSync(outside, "utf8")).toBe("untouched")
    for (const name of ["predictions.npy", "verdict.json", "metrics.json"]) {
      expect(fs.lstatSync(path.join(linked.run, name)).isFile(), name).toBe(true)
    }
  }, 300_000)
})
