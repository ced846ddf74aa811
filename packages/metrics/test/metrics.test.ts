/**
 * PSNR and SSIM against scikit-image (fixtures/reference.json): random and structured
 * images, odd sizes, constant and identical images, a stack, a narrow thermal range, an
 * image exactly the window's size. Agreement within 1e-5 relative, as the issue asks.
 */
import { assert, describe, it } from "@effect/vitest"
import { frame, ShapeMismatch, stack, TooSmall } from "../src/Image.ts"
import { psnr, psnrEach, psnrMean } from "../src/Psnr.ts"
import { prepare, scikitImageDefaults, ssim, ssimEach, ssimMean, ssimPrepared, wang, windowWeights } from "../src/Ssim.ts"
import { loadStack, num, reference, relativeError } from "./reference.ts"

const TOLERANCE = 1e-5
const cases = Object.entries(reference.metrics)

const assertClose = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, label: string) => {
  assert.strictEqual(actual.length, expected.length, label)
  actual.forEach((value, i) => {
    const error = relativeError(value, expected[i]!)
    assert.isTrue(error <= TOLERANCE, `${label}[${i}]: ${value} vs ${expected[i]} (relative error ${error.toExponential(2)})`)
  })
}

describe("psnr", () => {
  it.each(cases)("%s: per image, as scikit-image", (name, expected) => {
    const pred = loadStack(`metrics-${name}-pred.npy`)
    const target = loadStack(`metrics-${name}-target.npy`)
    assertClose(psnrEach(pred, target), expected.psnr.map(num), `${name} psnr`)
    assertClose(psnrEach(pred, target, { shave: 2 }), expected.psnrShave2.map(num), `${name} psnr shave 2`)
  })

  it("averages per-image values over a stack (not the PSNR of the pooled error)", () => {
    const pred = loadStack("metrics-stack-pred.npy")
    const target = loadStack("metrics-stack-target.npy")
    const each = reference.metrics.stack!.psnr.map(num)
    assert.closeTo(psnrMean(pred, target), (each[0]! + each[1]! + each[2]!) / 3, 1e-9)
    assert.closeTo(psnrMean(pred, target), 27.0501663, 1e-6)
  })

  it("gives +Infinity for identical images and scales with the data range", () => {
    const a = stack(1, 2, 2, Float32Array.from([0, 0.5, 0.5, 1]))
    const b = stack(1, 2, 2, Float32Array.from([0, 0.5, 0.5, 0.9]))
    assert.strictEqual(psnr(frame(a, 0), frame(a, 0)), Infinity)
    // MSE = 0.01 / 4 = 0.0025: 10 log10(1 / 0.0025) = 26.0206 dB; with R = 255, 20 log10(255) more.
    assert.closeTo(psnr(frame(b, 0), frame(a, 0)), 26.0206, 1e-4)
    assert.closeTo(psnr(frame(b, 0), frame(a, 0), { dataRange: 255 }), 26.0206 + 20 * Math.log10(255), 1e-4)
  })

  it("refuses stacks of different shapes and shaves larger than the image", () => {
    const a = stack(2, 4, 4)
    const b = stack(1, 4, 4)
    assert.throws(() => psnrEach(a, b), ShapeMismatch)
    assert.throws(() => psnr(frame(a, 0), frame(a, 0), { shave: 2 }), TooSmall)
  })
})

describe("ssim", () => {
  it.each(cases)("%s: Wang et al. 2004 (Gaussian 11x11, sigma 1.5, population covariance)", (name, expected) => {
    const pred = loadStack(`metrics-${name}-pred.npy`)
    const target = loadStack(`metrics-${name}-target.npy`)
    assertClose(ssimEach(pred, target), expected.ssimWang, `${name} ssim`)
    assertClose(ssimEach(pred, target, wang), expected.ssimWang, `${name} ssim (wang preset)`)
    if (expected.ssimWangShave2 !== null) assertClose(ssimEach(pred, target, { shave: 2 }), expected.ssimWangShave2, `${name} ssim shave 2`)
  })

  it.each(cases)("%s: scikit-image's defaults (uniform 7x7, sample covariance) and its Gaussian with sample covariance", (name, expected) => {
    const pred = loadStack(`metrics-${name}-pred.npy`)
    const target = loadStack(`metrics-${name}-target.npy`)
    assertClose(ssimEach(pred, target, scikitImageDefaults), expected.ssimScikitDefaults, `${name} ssim skimage defaults`)
    assertClose(ssimEach(pred, target, { sampleCovariance: true }), expected.ssimGaussianSample, `${name} ssim gaussian sample`)
  })

  it.each(cases)("%s: with the window prepared once (as evaluate does), image by image", (name, expected) => {
    const pred = loadStack(`metrics-${name}-pred.npy`)
    const target = loadStack(`metrics-${name}-target.npy`)
    for (const [options, values] of [[wang, expected.ssimWang], [scikitImageDefaults, expected.ssimScikitDefaults]] as const) {
      const prepared = prepare(options)
      assertClose(Array.from({ length: pred.count }, (_, i) => ssimPrepared(frame(pred, i), frame(target, i), prepared)), values, `${name} prepared`)
    }
  })

  it("is 1 for identical images, symmetric, and a mean over the stack", () => {
    const pred = loadStack("metrics-stack-pred.npy")
    const target = loadStack("metrics-stack-target.npy")
    assert.strictEqual(ssim(frame(target, 0), frame(target, 0)), 1)
    assert.closeTo(ssim(frame(pred, 1), frame(target, 1)), ssim(frame(target, 1), frame(pred, 1)), 1e-15)
    const each = reference.metrics.stack!.ssimWang
    assert.closeTo(ssimMean(pred, target), (each[0]! + each[1]! + each[2]!) / 3, 1e-9)
  })

  it("builds the windows scikit-image uses", () => {
    const gaussian = windowWeights()
    assert.strictEqual(gaussian.length, 11)
    assert.closeTo(gaussian.reduce((a, b) => a + b, 0), 1, 1e-15)
    // exp(-k^2 / 4.5) normalised: the centre weight of scipy's 11-tap kernel for sigma 1.5.
    assert.closeTo(gaussian[5]!, 0.266011725, 1e-9)
    assert.strictEqual(windowWeights({ sigma: 1 }).length, 9)
    assert.deepStrictEqual([...windowWeights({ window: "uniform" })], new Array(7).fill(1 / 7))
    assert.throws(() => windowWeights({ size: 8 }), /positive odd integer/)
  })

  it("refuses images smaller than the window, saying so", () => {
    const small = stack(1, 10, 30)
    const error = (() => {
      try {
        ssim(frame(small, 0), frame(small, 0))
      } catch (e) {
        return e
      }
    })()
    assert.instanceOf(error, TooSmall)
    assert.strictEqual((error as TooSmall).message, "SSIM with a 11x11 window needs images of at least 11x11, got 10x30")
    assert.isTrue(Number.isFinite(ssim(frame(small, 0), frame(small, 0), { window: "uniform", size: 7 })))
  })
})
