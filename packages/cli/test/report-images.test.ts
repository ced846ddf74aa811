/**
 * The report's image panels: `readImages` turns the crops the PSNR-gated scorer wrote into
 * the state folder into data: URIs of PNGs, with the baseline model's crops beside the
 * experiment's; it reads regular files only, and gives undefined when there is nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ScoreInput, Scorer } from "@autoresearch/core"
import { Image, Npy, PsnrGatedScorer, Resize } from "@autoresearch/metrics"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { maxPngBytes, readImages } from "../src/ReportImages.ts"

const [COUNT, HEIGHT, WIDTH, SCALE] = [2, 32, 40, 2]

const hr = Image.stack(COUNT, HEIGHT, WIDTH)
for (let i = 0; i < hr.data.length; i++) hr.data[i] = 0.3 + 0.2 * Math.sin(i * 0.37) * Math.cos(i * 0.011)
const lr = Resize.resizeStack(hr, HEIGHT / SCALE, WIDTH / SCALE)

const npy = (s: Image.Stack) => Npy.encodeNpy({ dtype: "float32", shape: [s.count, s.height, s.width], data: Float32Array.from(s.data) })

/** A research run's state folder with the data cache, scored for experiments `ids` (predictions: the truth plus noise). */
const scored = (ids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "report-images-"))
    const cacheDir = path.join(stateDir, "cache")
    for (const dir of ["inputs", "hidden"]) fs.mkdirSync(path.join(cacheDir, dir), { recursive: true })
    fs.writeFileSync(path.join(cacheDir, "inputs", "lr.npy"), npy(lr))
    fs.writeFileSync(path.join(cacheDir, "hidden", "hr.npy"), npy(hr))
    const scorer = yield* Scorer
    for (const id of ids) {
      const runDir = path.join(stateDir, "runs", String(id))
      fs.mkdirSync(runDir, { recursive: true })
      const prediction = Image.stack(COUNT, HEIGHT, WIDTH, hr.data.map((v, i) => v + 0.01 * (id + 1) * Math.sin(i)))
      fs.writeFileSync(path.join(runDir, "predictions.npy"), npy(prediction))
      const input: ScoreInput = {
        experiment: { id: String(id), workdir: stateDir, runDir, seed: 0, hidden: [] },
        run: { status: "ok", phases: [], runDir, logTail: "" },
        hiddenDir: path.join(cacheDir, "hidden"),
        cacheDir,
        stateDir,
        incumbent: undefined
      }
      const score = yield* scorer.score(input)
      assert.strictEqual(score.status, "ok")
    }
    return path.join(stateDir, "images")
  }).pipe(Effect.provide(PsnrGatedScorer.layer({ threads: 1, cropSize: 16 })))

const pngOf = (uri: string | undefined) => {
  assert.isDefined(uri)
  assert.match(uri!, /^data:image\/png;base64,/)
  const bytes = Buffer.from(uri!.slice("data:image/png;base64,".length), "base64")
  assert.deepStrictEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) }
}

describe("readImages", () => {
  it.live("gives each crop's panels as PNG data URIs, the baseline model's beside the experiment's", () =>
    Effect.gen(function*() {
      const root = yield* scored([0, 3])
      const images = readImages(root, 3)
      assert.isDefined(images)
      assert.strictEqual(images!.title, "validation crops, x2")
      assert.match(images!.range, /^value range .+ to .+ in every panel; error 0 to 0\.1$/)
      assert.strictEqual(images!.crops.length, 3)
      for (const crop of images!.crops) {
        assert.match(crop.name, /^image \d, crop at \(\d+, \d+\), 16 px$/)
        assert.deepStrictEqual(crop.panels.map((panel) => panel.name), ["LR input", "bicubic", "this experiment (#3)", "baseline model (#0)", "HR target"])
        for (const panel of crop.panels) {
          assert.deepStrictEqual(pngOf(panel.image), { width: 16, height: 16 })
          if (panel.name === "HR target") {
            assert.isUndefined(panel.error)
            assert.isUndefined(panel.psnr)
          } else {
            assert.deepStrictEqual(pngOf(panel.error), { width: 16, height: 16 })
            assert.isTrue(Number.isFinite(panel.psnr))
          }
        }
        // Experiment 3's predictions are further from the truth than the baseline's.
        assert.isBelow(crop.panels[2]!.psnr!, crop.panels[3]!.psnr!)
      }
      // The baseline itself: no second baseline panel.
      assert.deepStrictEqual(readImages(root, 0)!.crops[0]!.panels.map((panel) => panel.name), ["LR input", "bicubic", "this experiment (#0, the baseline)", "HR target"])
    }))

  it.live("gives undefined when there is nothing, and leaves out what is not a regular file", () =>
    Effect.gen(function*() {
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), "report-images-empty-"))
      assert.isUndefined(readImages(path.join(empty, "images"), 1))
      assert.isUndefined(readImages(empty, 1))
      assert.isUndefined(readImages(empty, -1))

      const root = yield* scored([3])
      assert.isUndefined(readImages(root, 4), "no crops for that experiment")
      assert.deepStrictEqual(readImages(root, 3)!.crops[0]!.panels.map((panel) => panel.name), ["LR input", "bicubic", "this experiment (#3)", "HR target"])

      // A symbolic link planted at a crop file is not followed: that panel is left out.
      const secret = path.join(empty, "secret.png")
      fs.copyFileSync(path.join(root, "3", "crop0.png"), secret)
      fs.rmSync(path.join(root, "3", "crop0.png"))
      fs.symlinkSync(secret, path.join(root, "3", "crop0.png"))
      const linked = readImages(root, 3)!
      assert.deepStrictEqual(linked.crops[0]!.panels.map((panel) => panel.name), ["LR input", "bicubic", "HR target"])
      assert.strictEqual(linked.crops[1]!.panels.length, 4)

      // A FIFO at a crop file is refused without waiting for a writer; an oversized or non-PNG file is left out.
      const common = fs.readdirSync(root).find((name) => name.startsWith("common-"))!
      fs.rmSync(path.join(root, common, "crop1-target.png"))
      fs.writeFileSync(path.join(root, common, "crop1-bicubic.png"), "not a png")
      fs.writeFileSync(path.join(root, common, "crop2-input.png"), Buffer.alloc(maxPngBytes + 1))
      fs.rmSync(path.join(root, common, "crop1-input.png"))
      execFileSync("mkfifo", [path.join(root, common, "crop1-input.png")])
      const rest = readImages(root, 3)!
      assert.deepStrictEqual(rest.crops[1]!.panels.map((panel) => panel.name), ["this experiment (#3)"])
      assert.deepStrictEqual(rest.crops[2]!.panels.map((panel) => panel.name), ["bicubic", "this experiment (#3)", "HR target"])

      // A link at the experiment's folder or its meta.json: nothing.
      fs.rmSync(path.join(root, "3", "meta.json"))
      fs.symlinkSync(path.join(root, common, "meta.json"), path.join(root, "3", "meta.json"))
      assert.isUndefined(readImages(root, 3))
      fs.symlinkSync(path.join(root, "3"), path.join(root, "5"))
      assert.isUndefined(readImages(root, 5))
    }))
})
