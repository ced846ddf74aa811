/**
 * The real LWIR images (../shared/data/lwir-real, outside the repository): every PNG
 * decodes to the pixels PIL reads, and a down-and-up bicubic round trip of a real crop
 * scores as scikit-image and PIL score it. Skipped, saying so, where the folder is absent.
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { bicubicBaseline } from "../src/Baseline.ts"
import { range, stack } from "../src/Image.ts"
import { readImageSync } from "../src/ImageFile.ts"
import { psnrMean } from "../src/Psnr.ts"
import { resizeStack } from "../src/Resize.ts"
import { ssimMean } from "../src/Ssim.ts"
import { realDataDir, realDataPresent, reference, relativeError } from "./reference.ts"

const usable = realDataPresent && reference.real.present

describe("real LWIR images", () => {
  if (!usable) {
    it.skip(`skipped: ${realDataDir} is absent (or fixtures were made without it)`, () => {})
    return
  }

  it("decodes every 8- and 16-bit PNG to the pixels PIL reads", () => {
    const files = Object.entries(reference.real.files)
    assert.strictEqual(files.length, 80)
    for (const [name, expected] of files) {
      const loaded = readImageSync(path.join(realDataDir, name))
      assert.deepStrictEqual(loaded.shape, expected.shape, name)
      const max = loaded.dtype === "uint16" ? 65535 : 255
      const samples = loaded.dtype === "uint16" ? new Uint16Array(loaded.stack.data.length) : new Uint8Array(loaded.stack.data.length)
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(loaded.stack.data[i]! * max)
      const hash = createHash("sha256").update(new Uint8Array(samples.buffer)).digest("hex")
      assert.strictEqual(hash, expected.sha256, name)
      assert.deepStrictEqual(range(samples), { min: expected.min, max: expected.max }, name)
    }
  })

  it("scores a real crop's bicubic round trip as scikit-image and PIL do", () => {
    const trip = reference.real.roundTrip!
    const image = readImageSync(path.join(realDataDir, trip.file)).stack
    const [top, left, height, width] = trip.crop
    const crop = stack(1, height, width)
    for (let y = 0; y < height; y++) crop.data.set(image.data.subarray((top + y) * image.width + left, (top + y) * image.width + left + width), y * width)
    const up = bicubicBaseline(resizeStack(crop, height / 2, width / 2), crop)
    const psnr = psnrMean(up, crop)
    const ssim = ssimMean(up, crop)
    assert.isBelow(relativeError(psnr, trip.psnr), 1e-5, `psnr ${psnr} vs ${trip.psnr}`)
    assert.isBelow(relativeError(ssim, trip.ssim), 1e-5, `ssim ${ssim} vs ${trip.ssim}`)
    assert.closeTo(psnr, 31.647, 1e-3)
  })
})
