/**
 * The report's fixed validation crops: the PSNR-gated scorer writes them into the state
 * folder (never the run directory) for an experiment's main trial, at the same positions
 * every time, one value range for every panel; `crops: 0` and the no-reference mode write
 * none, and a crop that cannot be written never fails scoring.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ScoreInput, Scorer } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bicubicBaseline } from "../src/Baseline.ts"
import * as Crops from "../src/Crops.ts"
import { stack, type Stack } from "../src/Image.ts"
import { encodeNpy } from "../src/Npy.ts"
import { decodePng } from "../src/Png.ts"
import * as PsnrGatedScorer from "../src/PsnrGatedScorer.ts"
import { resizeStack } from "../src/Resize.ts"

const [COUNT, HEIGHT, WIDTH, SCALE] = [3, 48, 40, 2]

const truth = (): Stack => {
  const hr = stack(COUNT, HEIGHT, WIDTH)
  for (let n = 0; n < COUNT; n++) {
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) {
        const disc = (x - 12 - 6 * n) ** 2 + (y - 20) ** 2 < 64 ? 0.3 : 0
        hr.data[(n * HEIGHT + y) * WIDTH + x] = 0.2 + 0.3 * (x / WIDTH) + disc + 0.08 * Math.sin(x * 2.1 + n) * Math.cos(y * 1.7)
      }
    }
  }
  return hr
}

const hr = truth()
const lr = resizeStack(hr, HEIGHT / SCALE, WIDTH / SCALE)
const bicubic = bicubicBaseline(lr, hr)

const blend = (t: number): Stack => {
  const out = stack(COUNT, HEIGHT, WIDTH)
  for (let i = 0; i < out.data.length; i++) out.data[i] = (1 - t) * bicubic.data[i]! + t * hr.data[i]!
  return out
}

const npy = (s: Stack) => encodeNpy({ dtype: "float32", shape: [s.count, s.height, s.width], data: Float32Array.from(s.data) })

const layout = (prediction: Stack, label = "1") => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "crops-"))
  const stateDir = path.join(root, "state")
  const cacheDir = path.join(stateDir, "cache")
  const runDir = path.join(stateDir, "runs", label)
  for (const dir of [path.join(cacheDir, "inputs"), path.join(cacheDir, "hidden"), runDir]) fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(cacheDir, "inputs", "lr.npy"), npy(lr))
  fs.writeFileSync(path.join(cacheDir, "hidden", "hr.npy"), npy(hr))
  fs.writeFileSync(path.join(cacheDir, "hidden", "classic.npy"), npy(bicubic))
  fs.writeFileSync(path.join(runDir, "predictions.npy"), npy(prediction))
  const logPath = path.join(runDir, "train.log")
  fs.writeFileSync(logPath, "step 100 loss 0.01\n")
  const input: ScoreInput = {
    experiment: { id: label, workdir: root, runDir, seed: 0, hidden: [] },
    run: { status: "ok", phases: [{ name: "train", exitCode: 0, signal: null, seconds: 1, logPath, timedOut: false }], runDir, logTail: "" },
    hiddenDir: path.join(cacheDir, "hidden"),
    cacheDir,
    stateDir,
    incumbent: undefined
  }
  return { root, stateDir, runDir, input }
}

/** The same input for another trial of the same research run (another label, another run directory). */
const relabel = (input: ScoreInput, label: string): ScoreInput => {
  const runDir = path.join(input.stateDir, "runs", label)
  fs.mkdirSync(runDir, { recursive: true })
  fs.copyFileSync(path.join(input.run.runDir, "predictions.npy"), path.join(runDir, "predictions.npy"))
  return { ...input, experiment: { ...input.experiment, id: label, runDir }, run: { ...input.run, runDir } }
}

const score = (input: ScoreInput, options: PsnrGatedScorer.PsnrGatedScorerOptions = {}) =>
  Effect.gen(function*() {
    const scorer = yield* Scorer
    return yield* scorer.score(input)
  }).pipe(Effect.provide(PsnrGatedScorer.layer({ threads: 1, ...options })))

/** Width and height from a PNG's IHDR. */
const pngSize = (bytes: Uint8Array) => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

const listing = (dir: string): Array<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).sort()

const commonDirOf = (imagesDir: string) => {
  const found = fs.readdirSync(imagesDir).filter((name) => name.startsWith("common-"))
  assert.strictEqual(found.length, 1)
  return path.join(imagesDir, found[0]!)
}

describe("Crops.cropPlan", () => {
  it("places crops from the shape alone, inside the image, on whole input pixels", () => {
    const shape = { count: 7, height: 100, width: 130 }
    const plan = Crops.cropPlan(shape, 3, { scale: 4 })
    assert.deepStrictEqual(plan, Crops.cropPlan(shape, 3, { scale: 4 }))
    assert.strictEqual(plan.length, 3)
    assert.deepStrictEqual(new Set(plan.map((c) => c.index)).size, 3)
    for (const c of plan) {
      assert.strictEqual(c.size, 48)
      assert.isTrue(c.y >= 0 && c.y + c.size <= shape.height && c.x >= 0 && c.x + c.size <= shape.width)
      assert.strictEqual(c.x % 4, 0)
      assert.strictEqual(c.y % 4, 0)
    }
    // Smaller images, smaller crops; one image, every crop in it; none asked, none planned.
    assert.strictEqual(Crops.cropPlan({ count: 1, height: 30, width: 22 }, 3, { scale: 4 })[0]!.size, 20)
    assert.deepStrictEqual(Crops.cropPlan({ count: 1, height: 64, width: 64 }, 2).map((c) => c.index), [0, 0])
    assert.deepStrictEqual(Crops.cropPlan(shape, 0), [])
  })
})

describe("PsnrGatedScorer crops", () => {
  it.live("writes the crops into the state folder, never into the run directory", () =>
    Effect.gen(function*() {
      const { stateDir, runDir, input } = layout(blend(0.7))
      const before = listing(runDir)
      const result = yield* score(input, { inputLabel: "burst reference frame", references: { classic: "hidden/classic.npy" } })
      assert.strictEqual(result.status, "ok")
      assert.deepStrictEqual(listing(runDir), before, "nothing is written into the run directory")
      const imagesDir = path.join(stateDir, "images")
      const own = path.join(imagesDir, "1")
      assert.deepStrictEqual(listing(own), ["crop0-error.png", "crop0.png", "crop1-error.png", "crop1.png", "crop2-error.png", "crop2.png", "meta.json"])
      const common = commonDirOf(imagesDir)
      const meta = JSON.parse(fs.readFileSync(path.join(own, "meta.json"), "utf8"))
      assert.strictEqual(meta.common, path.basename(common))
      assert.strictEqual(meta.psnr.length, 3)
      const commonMeta = JSON.parse(fs.readFileSync(path.join(common, "meta.json"), "utf8"))
      assert.strictEqual(commonMeta.title, "validation crops, x2")
      assert.match(commonMeta.range, /^value range [0-9.]+ to [0-9.]+ in every panel; error 0 to 0\.1$/)
      assert.deepStrictEqual(commonMeta.panels.map((panel: { name: string }) => panel.name), ["burst reference frame", "bicubic", "classic"])
      assert.deepStrictEqual(commonMeta.crops.map((crop: { name: string }) => crop.name), Crops.cropPlan(hr, 3, { scale: SCALE }).map((c) => `image ${c.index}, crop at (${c.x}, ${c.y}), ${c.size} px`))
      for (const file of ["crop0-input.png", "crop0-bicubic.png", "crop0-ref-classic.png", "crop0-target.png", "crop2-input-error.png"]) {
        assert.deepStrictEqual(pngSize(fs.readFileSync(path.join(common, file))), { width: 40, height: 40 }, file)
      }
      // The error maps are gray; the classic reference is the bicubic upscaling, so their maps and PSNRs agree.
      const error = decodePng(fs.readFileSync(path.join(own, "crop1-error.png")))
      assert.deepStrictEqual(error.shape, [40, 40])
      assert.deepStrictEqual(fs.readFileSync(path.join(common, "crop1-bicubic-error.png")), fs.readFileSync(path.join(common, "crop1-ref-classic-error.png")))
      assert.deepStrictEqual(commonMeta.panels[1].psnr, commonMeta.panels[2].psnr)
      // Better predictions than bicubic: a higher PSNR on each crop.
      meta.psnr.forEach((value: number, i: number) => assert.isAbove(value, commonMeta.panels[1].psnr[i]))
      for (const name of listing(imagesDir)) assert.notMatch(name, /\.tmp$/)
    }))

  it.live("uses the same crops on every run; the common crops are written once per data", () =>
    Effect.gen(function*() {
      const a = layout(blend(0.7))
      const b = layout(blend(0.2))
      yield* score(a.input)
      yield* score(b.input)
      const [commonA, commonB] = [commonDirOf(path.join(a.stateDir, "images")), commonDirOf(path.join(b.stateDir, "images"))]
      assert.strictEqual(path.basename(commonA), path.basename(commonB))
      assert.deepStrictEqual(listing(commonA), listing(commonB))
      for (const name of listing(commonA)) assert.deepStrictEqual(fs.readFileSync(path.join(commonA, name)), fs.readFileSync(path.join(commonB, name)), name)
      // Other predictions, other crops of them, at the same places.
      assert.notDeepEqual(fs.readFileSync(path.join(a.stateDir, "images", "1", "crop0.png")), fs.readFileSync(path.join(b.stateDir, "images", "1", "crop0.png")))
      // A second experiment in the same run reuses the common folder.
      const stamp = fs.statSync(path.join(commonA, "meta.json")).mtimeMs
      yield* score(relabel(a.input, "2"))
      assert.deepStrictEqual(fs.readdirSync(path.join(a.stateDir, "images")).sort(), ["1", "2", path.basename(commonA)].sort())
      assert.strictEqual(fs.statSync(path.join(commonA, "meta.json")).mtimeMs, stamp)
      assert.deepStrictEqual(fs.readFileSync(path.join(a.stateDir, "images", "1", "crop2.png")), fs.readFileSync(path.join(a.stateDir, "images", "2", "crop2.png")))
    }))

  it.live("writes only for an experiment's main trial: confirmation, noise and verify runs leave its crops alone", () =>
    Effect.gen(function*() {
      const { stateDir, input } = layout(blend(0.7))
      yield* score(input)
      const own = path.join(stateDir, "images", "1")
      const before = fs.readFileSync(path.join(own, "crop0.png"))
      for (const label of ["1-seed7", "noise-seed3", "verify-1-seed2"]) {
        const other = relabel(input, label)
        fs.writeFileSync(path.join(other.run.runDir, "predictions.npy"), npy(blend(0.1)))
        const result = yield* score(other)
        assert.strictEqual(result.status, "ok")
      }
      assert.deepStrictEqual(fs.readdirSync(path.join(stateDir, "images")).filter((name) => !name.startsWith("common-")), ["1"])
      assert.deepStrictEqual(fs.readFileSync(path.join(own, "crop0.png")), before)
    }))

  it.live("crops: 0 writes nothing, nor does the no-reference mode", () =>
    Effect.gen(function*() {
      const off = layout(blend(0.7))
      const result = yield* score(off.input, { crops: 0 })
      assert.strictEqual(result.status, "ok")
      assert.isFalse(fs.existsSync(path.join(off.stateDir, "images")))
      const nr = layout(blend(0.7))
      const noReference = yield* score(nr.input, { targets: null, scale: SCALE })
      assert.strictEqual(noReference.status, "ok")
      assert.isFalse(fs.existsSync(path.join(nr.stateDir, "images")))
      const refused = yield* Effect.flip(score(off.input, { crops: -1 }))
      assert.match(refused.reason, /crops: -1/)
    }))

  it.live("a crop that cannot be written does not fail scoring, nor change the score", () =>
    Effect.gen(function*() {
      const plain = layout(blend(0.7))
      const expected = yield* score(plain.input, { crops: 0 })
      const { stateDir, input } = layout(blend(0.7))
      fs.writeFileSync(path.join(stateDir, "images"), "not a folder")
      const result = yield* score(input)
      assert.deepStrictEqual(result, expected)
      assert.strictEqual(fs.readFileSync(path.join(stateDir, "images"), "utf8"), "not a folder")
      // A link where the experiment's folder goes is not written through.
      fs.rmSync(path.join(stateDir, "images"))
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "crops-elsewhere-"))
      fs.mkdirSync(path.join(stateDir, "images"))
      fs.symlinkSync(elsewhere, path.join(stateDir, "images", "1"))
      assert.deepStrictEqual(yield* score(input), expected)
      assert.deepStrictEqual(fs.readdirSync(elsewhere), [])
    }))
})
