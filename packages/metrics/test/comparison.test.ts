/**
 * What `autoresearch metrics PRED TARGET` computes and prints: the scorer's numbers for
 * two files, the bicubic baseline with `lr`, and warnings where a number misleads.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { compareFiles, formatComparison } from "../src/Comparison.ts"
import { encodeNpy } from "../src/Npy.ts"
import { resizeStack } from "../src/Resize.ts"
import { fixture, loadStack, reference } from "./reference.ts"

describe("compareFiles", () => {
  it.live("gives scikit-image's PSNR and SSIM for two stacks, and the sharpness ratios", () =>
    Effect.gen(function*() {
      const c = yield* compareFiles(fixture("metrics-stack-pred.npy"), fixture("metrics-stack-target.npy"), { scale: 2 })
      const expected = reference.metrics.stack!
      assert.strictEqual(c.images, 3)
      assert.closeTo(c.psnr, (expected.psnr as Array<number>).reduce((a, b) => a + b) / 3, 1e-9)
      assert.closeTo(c.ssim, expected.ssimWang.reduce((a, b) => a + b) / 3, 1e-9)
      assert.deepStrictEqual(c.warnings, [])
      assert.isDefined(c.highFrequencyEnergyRatio)
      const text = formatComparison(c)
      assert.match(text, /^3 images of 24x26, data range 1, shave 0\npsnr\s+27\.0502 dB {2}min 14\.69, max 40\.35\nssim\s+0\.923090/)
      assert.include(text, "hf energy")
    }))

  it.live("adds the bicubic baseline and LR-consistency with the low-resolution input, shaving the scale", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-"))
      const hr = loadStack("resize-down2-in.npy")
      const lr = resizeStack(hr, 17, 13)
      fs.writeFileSync(path.join(dir, "hr.npy"), encodeNpy({ dtype: "float32", shape: [34, 26], data: Float32Array.from(hr.data) }))
      fs.writeFileSync(path.join(dir, "lr.npy"), encodeNpy({ dtype: "float32", shape: [17, 13], data: Float32Array.from(lr.data) }))
      const c = yield* compareFiles(path.join(dir, "hr.npy"), path.join(dir, "hr.npy"), { lr: path.join(dir, "lr.npy") })
      assert.strictEqual(c.scale, 2)
      assert.strictEqual(c.shave, 2)
      assert.strictEqual(c.psnr, Infinity)
      assert.isBelow(c.bicubicPsnr!, 60)
      assert.isAbove(c.lrPsnr!, 100)
      assert.include(formatComparison(c), "bicubic psnr")
    }))

  it.live("warns about a narrow target range and clamped predictions", () =>
    Effect.gen(function*() {
      const dark = yield* compareFiles(fixture("metrics-dark-pred.npy"), fixture("metrics-dark-target.npy"))
      assert.strictEqual(dark.warnings.length, 1)
      assert.match(dark.warnings[0]!, /^the target spans only 0\.0113\.\.0\.0179 of a data range of 1: PSNR is inflated/)
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "compare-"))
      fs.writeFileSync(path.join(dir, "p.npy"), encodeNpy({ dtype: "float32", shape: [12, 12], data: new Float32Array(144).fill(1.5) }))
      fs.writeFileSync(path.join(dir, "t.npy"), encodeNpy({ dtype: "float32", shape: [12, 12], data: new Float32Array(144).map((_, i) => i / 143) }))
      const clamped = yield* compareFiles(path.join(dir, "p.npy"), path.join(dir, "t.npy"))
      assert.deepStrictEqual(clamped.warnings, ["144 prediction values outside [0, 1] were clamped, as the scorer does"])
    }))

  it.live("says which files disagree in shape, and which file is bad", () =>
    Effect.gen(function*() {
      const mismatch = yield* Effect.flip(compareFiles(fixture("metrics-stack-pred.npy"), fixture("metrics-structured-target.npy")))
      assert.strictEqual(mismatch.message, `${fixture("metrics-stack-pred.npy")}: shape 3x24x26, but ${fixture("metrics-structured-target.npy")} is 1x48x41: they must have the same shape`)
      const bad = yield* Effect.flip(compareFiles(fixture("bad-int64.npy"), fixture("metrics-stack-target.npy")))
      assert.strictEqual(bad._tag, "ImageFileError")
    }))
})
