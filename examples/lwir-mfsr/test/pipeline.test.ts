/**
 * The frozen pipeline's parts, run by themselves with the real python: the registration
 * recovers known sub-pixel shifts, every fusion choice of train.py saves and loads through
 * the trusted predict step, files the experiment planted in its run directory (a FIFO,
 * links) neither hang predict nor redirect its writes, and the data step's test split
 * (scenes of its own, laid out like the cache) runs through predict unchanged. Skips,
 * saying so, without a python that has torch, numpy and PIL.
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
  spawnSync(python[0]!, [...python.slice(1), ...args], { cwd, env: { ...process.env, AUTORESEARCH_THREADS: "1", ...env }, encoding: "utf8", timeout: 300_000 })

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

  it.skipIf(!hasTorch)(title("three splits by scene; the test split, laid out like the cache, runs through predict unchanged"), () => {
    const inspect = `
import json, os, sys, numpy as np
cache = sys.argv[1]
arrays = {os.path.relpath(os.path.join(d, n), cache): np.load(os.path.join(d, n))
          for d, _, names in os.walk(cache) for n in names if n.endswith(".npy")}
def shared_rows(small, big, width):
    # rows of big (at any offset) equal to the first width pixels of a patch of small: a crop from a shared scene
    keys = {p[0, :width].tobytes() for p in small}
    return sum(row[c:c + width].tobytes() in keys for p in big for row in p for c in range(row.shape[0] - width + 1))
test = arrays["test/hidden/hr.npy"]
print(json.dumps({
    "shapes": {name: list(a.shape) for name, a in sorted(arrays.items())},
    "splits": json.load(open(os.path.join(cache, "hidden", "splits.json"))),
    "meta": {part: json.load(open(os.path.join(cache, part, "meta.json"))) for part in ("train", "inputs", "test/inputs")},
    "shared": {"train": shared_rows(arrays["train/hr.npy"], test, 64), "validation": shared_rows(arrays["hidden/hr.npy"], test, 48)},
}))
`
    const inspected = py(["-c", inspect, cache])
    expect(inspected.status, inspected.stderr).toBe(0)
    const { shapes, splits, meta, shared } = JSON.parse(inspected.stdout)
    const held = { "bursts.npy": [48, 3, 24, 24], "lr.npy": [48, 24, 24], "hr.npy": [48, 96, 96], "shift_add.npy": [48, 96, 96] }
    expect(shapes).toEqual({
      "hidden/hr.npy": held["hr.npy"], "hidden/shift_add.npy": held["shift_add.npy"],
      "inputs/bursts.npy": held["bursts.npy"], "inputs/lr.npy": held["lr.npy"],
      "test/hidden/hr.npy": held["hr.npy"], "test/hidden/shift_add.npy": held["shift_add.npy"],
      "test/inputs/bursts.npy": held["bursts.npy"], "test/inputs/lr.npy": held["lr.npy"],
      "train/bursts.npy": [1000, 3, 16, 16], "train/hr.npy": [1000, 64, 64]
    })
    // Validation keeps the scenes it had before the test split existed; the test scenes are new ones.
    expect(splits.validation).toEqual([35, 36, 37, 38, 39, 40])
    expect(splits.test).toEqual([41, 42, 43, 44, 45, 46])
    expect([...splits.train, ...splits.validation, ...splits.test].sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 47 }, (_, i) => i))
    expect(meta["test/inputs"]).toEqual(meta.inputs)
    expect(meta.inputs).toMatchObject({ val: [48, 3, 24, 24], test: [48, 3, 24, 24] })
    expect(shared).toEqual({ train: 0, validation: 0 })
    expect(fs.readdirSync(path.join(cache, "train")).sort()).toEqual(["bursts.npy", "hr.npy", "meta.json"])
    expect(fs.readdirSync(path.join(cache, "inputs")).sort()).toEqual(["bursts.npy", "lr.npy", "meta.json"])

    const { run } = trainAndPredict("test-split", fs.readFileSync(path.join(example, "train.py"), "utf8"))
    const predicted = py(["prepare.py", "predict"], {
      AUTORESEARCH_INPUTS_DIR: path.join(cache, "test", "inputs"),
      AUTORESEARCH_RUN_DIR: run
    }, path.dirname(run))
    expect(predicted.status, predicted.stderr).toBe(0)
    expect(JSON.parse(fs.readFileSync(path.join(run, "verdict.json"), "utf8"))).toEqual({ status: "ok" })
    const psnr = `
import json, sys, numpy as np
p, t, s = (np.load(f) for f in sys.argv[1:])
db = lambda x: float(np.mean([10 * np.log10(1 / np.mean((a - b)[4:-4, 4:-4] ** 2)) for a, b in zip(np.clip(x, 0, 1), t)]))
print(json.dumps({"shape": list(p.shape), "model": db(p), "shift_add": db(s)}))
`
    const test = path.join(cache, "test")
    const scored = py(["-c", psnr, path.join(run, "predictions.npy"), path.join(test, "hidden", "hr.npy"), path.join(test, "hidden", "shift_add.npy")])
    expect(scored.status, scored.stderr).toBe(0)
    const { shape, model, shift_add } = JSON.parse(scored.stdout)
    console.log(`test split: model ${model.toFixed(3)} dB (1 s of training), shift-and-add ${shift_add.toFixed(3)} dB`)
    expect(shape).toEqual([48, 96, 96])
    expect(model).toBeGreaterThan(20)
    expect(shift_add).toBeGreaterThan(20)
  }, 300_000)

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
