/**
 * The phase-1 data step by itself, with the real python: three splits by scene (training,
 * validation as before, and a test split laid out like the cache under test/), no scene in
 * two splits and no test pixel in what an experiment reads, the same cache on a rebuild; on
 * real folders, a scene (file or subfolder) stays in one split, and too few scenes are
 * refused before anything is written. Skips, saying so, without a python that has torch,
 * numpy and PIL.
 */
import { locatePython } from "@autoresearch/core"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const example = path.resolve(import.meta.dirname, "..")
const real = path.resolve(import.meta.dirname, "../../../../shared/data/lwir-real")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-sr-data-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

const py = (args: Array<string>, env: Record<string, string> = {}) =>
  spawnSync(python[0]!, [...python.slice(1), ...args], { cwd: example, env: { ...process.env, ...env }, encoding: "utf8", timeout: 300_000 })

const prepare = (args: Array<string>) => {
  const cache = fs.mkdtempSync(path.join(base, "cache-"))
  const result = py(["prepare.py", "--smoke", ...args], { AUTORESEARCH_CACHE_DIR: cache, AUTORESEARCH_SEED: "0" })
  const written = fs.readdirSync(cache, { recursive: true }).map(String).sort()
  return { cache, status: result.status, output: `${result.stdout}${result.stderr}`, written }
}

/** What a cache holds: every array's shape, the splits, and how many rows of test targets
 * turn up in the training or validation targets (a crop from a shared scene would). */
const inspect = `
import json, os, sys, numpy as np
cache = sys.argv[1]
arrays = {}
for folder, _, files in os.walk(cache):
    for name in files:
        if name.endswith(".npy"):
            arrays[os.path.relpath(os.path.join(folder, name), cache)] = np.load(os.path.join(folder, name))
def shared_rows(small, big, width):
    """Rows of \`big\` (at any offset) equal to the first \`width\` pixels of a patch of \`small\`."""
    keys = {p[0, :width].tobytes() for p in small}
    return sum(row[c:c + width].tobytes() in keys for p in big for row in p for c in range(row.shape[0] - width + 1))
test = arrays["test/hidden/hr.npy"]
print(json.dumps({
    "shapes": {name: list(a.shape) for name, a in arrays.items()},
    "splits": json.load(open(os.path.join(cache, "hidden", "splits.json"))),
    "meta": {part: json.load(open(os.path.join(cache, part, "meta.json"))) for part in ("train", "inputs", "test/inputs")},
    "shared": {"train": shared_rows(arrays["train/hr.npy"], test, arrays["train/hr.npy"].shape[2]),
               "validation": shared_rows(arrays["hidden/hr.npy"], test, 64)},
}))
`

const skipped = `SKIPPED: no python with torch, numpy and PIL (tried ${python.join(" ")}); Debian: apt-get install python3-torch python3-numpy python3-pil`
const title = (what: string) => (hasTorch ? what : skipped)

/** Writes 8-bit grayscale noise PNGs with PIL, one per name. */
const writeImages = (dir: string, names: Array<string>, size = 200) => {
  fs.mkdirSync(dir, { recursive: true })
  const script = `
import sys, numpy as np
from PIL import Image
for i, name in enumerate(sys.argv[3:]):
    Image.fromarray(np.random.default_rng([i, len(sys.argv[1])]).integers(0, 255, (int(sys.argv[2]),) * 2, dtype=np.uint8)).save(f"{sys.argv[1]}/{name}")
`
  const result = py(["-c", script, dir, String(size), ...names])
  if (result.status !== 0) throw new Error(result.stderr)
}

const expectDisjoint = (splits: Record<string, Array<string | number>>, all: Array<string | number>) => {
  const { train, validation, test } = splits
  expect(train!.length * validation!.length * test!.length).toBeGreaterThan(0)
  expect([...train!, ...validation!, ...test!].sort()).toEqual([...all].sort())
  expect(new Set([...train!, ...validation!, ...test!]).size).toBe(all.length)
}

describe("examples/lwir-sr prepare.py: training, validation and test splits", () => {
  it.skipIf(!hasTorch)(title("builds three splits by scene, the test split laid out like the cache, and the same cache twice"), () => {
    const built = prepare([])
    expect(built.status, built.output).toBe(0)
    expect(built.output).toMatch(
      /synthetic \(72 scenes\).*1200 training patches of 96px from 54 scenes, 64 validation patches of 128px from 9 scenes, 64 test patches of 128px from 9 scenes/
    )
    const files = built.written.filter((name) => name.includes("."))
    expect(files).toEqual([
      "hidden/hr.npy", "hidden/splits.json", "inputs/lr.npy", "inputs/meta.json",
      "test/hidden/hr.npy", "test/inputs/lr.npy", "test/inputs/meta.json",
      "train/hr.npy", "train/lr.npy", "train/meta.json"
    ].map((name) => path.join(...name.split("/"))))

    const result = py(["-c", inspect, built.cache])
    expect(result.status, result.stderr).toBe(0)
    const { shapes, splits, meta, shared } = JSON.parse(result.stdout)
    expect(shapes).toEqual({
      "train/hr.npy": [1200, 96, 96], "train/lr.npy": [1200, 24, 24],
      "inputs/lr.npy": [64, 32, 32], "hidden/hr.npy": [64, 128, 128],
      "test/inputs/lr.npy": [64, 32, 32], "test/hidden/hr.npy": [64, 128, 128]
    })
    // Validation keeps the scenes it had before the test split existed; the test scenes are new ones.
    expect(splits.validation).toEqual([53, 54, 55, 56, 57, 58, 59, 60, 61])
    expect(splits.test).toEqual([63, 64, 65, 66, 67, 68, 69, 70, 71])
    expectDisjoint(splits, Array.from({ length: 72 }, (_, i) => i))
    expect(meta["test/inputs"]).toEqual(meta.inputs)
    expect(meta.train).toEqual(meta.inputs)
    expect(meta.inputs).toMatchObject({ val: [64, 128, 128], test: [64, 128, 128], train: [1200, 96, 96] })
    expect(shared).toEqual({ train: 0, validation: 0 })

    const again = prepare([])
    expect(again.status, again.output).toBe(0)
    for (const file of files) {
      expect(fs.readFileSync(path.join(again.cache, file)).equals(fs.readFileSync(path.join(built.cache, file))), file).toBe(true)
    }
  }, 300_000)

  it.skipIf(!hasTorch)(title("keeps a real scene (a file or a subfolder) in one split, and refuses fewer than 3 scenes, writing nothing"), () => {
    const two = path.join(base, "two")
    writeImages(two, ["a.png", "b.png"])
    const refused = prepare(["--data", two])
    expect(refused.status, refused.output).not.toBe(0)
    expect(refused.output).toMatch(/bad input: .*two: need at least 3 scenes .* found 2/)
    expect(refused.output).not.toMatch(/Traceback/)
    expect(refused.written).toEqual([])

    const three = path.join(base, "three")
    writeImages(three, ["a.png", "b.png"])
    writeImages(path.join(three, "video"), ["000.png", "001.png", "002.png"])
    const built = prepare(["--data", three])
    expect(built.status, built.output).toBe(0)
    expect(built.output).toMatch(/from 1 scenes, 64 validation patches of 128px from 1 scenes, 64 test patches of 128px from 1 scenes/)
    const result = py(["-c", inspect, built.cache])
    expect(result.status, result.stderr).toBe(0)
    const { shapes, splits } = JSON.parse(result.stdout)
    expectDisjoint(splits, ["a.png", "b.png", "video"])
    expect(shapes["test/inputs/lr.npy"]).toEqual([64, 32, 32])
    expect(shapes["test/hidden/hr.npy"]).toEqual([64, 128, 128])
  }, 300_000)

  const roadscene = path.join(real, "roadscene")
  const haveReal = fs.existsSync(roadscene)
  it.skipIf(!hasTorch || !haveReal)(
    !hasTorch ? skipped : haveReal ? "splits the real roadscene frames 50 / 11 / 11 by file" : `SKIPPED: ${roadscene} is absent (the real LWIR frames)`,
    () => {
      const built = prepare(["--data", roadscene])
      expect(built.status, built.output).toBe(0)
      const { splits } = JSON.parse(py(["-c", inspect, built.cache]).stdout)
      expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([50, 11, 11])
      expectDisjoint(splits, fs.readdirSync(roadscene).filter((name) => name.endsWith(".png")))
    },
    300_000
  )
})
