/**
 * Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004): local means, variances
 * and covariance under a sliding window, combined per pixel and averaged over the
 * positions where the window fits inside the image. The default is the paper's: an
 * 11x11 Gaussian window with sigma 1.5, K1 0.01, K2 0.03, population covariance.
 * `scikitImageDefaults` reproduces `skimage.metrics.structural_similarity` called with
 * only `data_range` (7x7 uniform window, sample covariance).
 */
import { assertSameShape, type Frame, frames, type Pixels, ShapeMismatch, shave, type Stack, TooSmall } from "./Image.ts"
import { mean } from "./Psnr.ts"

export interface SsimOptions {
  /** Distance between the smallest and largest possible value; 1 by default. */
  readonly dataRange?: number
  readonly window?: "gaussian" | "uniform"
  /** Window side, odd. Gaussian: 2 * trunc(3.5 sigma + 0.5) + 1 (11 for sigma 1.5); uniform: 7. */
  readonly size?: number
  /** Gaussian standard deviation; 1.5 by default. */
  readonly sigma?: number
  readonly k1?: number
  readonly k2?: number
  /** Normalise (co)variances by N - 1 instead of N, N being the window's pixel count. */
  readonly sampleCovariance?: boolean
  /** Pixels left out on every side before comparing. */
  readonly shave?: number
}

/** Wang et al. 2004, the default. */
export const wang: SsimOptions = { window: "gaussian", sigma: 1.5, k1: 0.01, k2: 0.03, sampleCovariance: false }

/** What `structural_similarity(a, b, data_range=R)` computes in scikit-image. */
export const scikitImageDefaults: SsimOptions = { window: "uniform", size: 7, k1: 0.01, k2: 0.03, sampleCovariance: true }

/** The separable 1-D window, summing to 1. */
export const windowWeights = (options: SsimOptions = {}): Float64Array => {
  const kind = options.window ?? "gaussian"
  const sigma = options.sigma ?? 1.5
  const size = options.size ?? (kind === "gaussian" ? 2 * Math.trunc(3.5 * sigma + 0.5) + 1 : 7)
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) {
    throw new RangeError(`SSIM window size must be a positive odd integer, got ${size}`)
  }
  const radius = (size - 1) / 2
  const weights = new Float64Array(size)
  let sum = 0
  for (let k = -radius; k <= radius; k++) {
    const w = kind === "gaussian" ? Math.exp((-0.5 * k * k) / (sigma * sigma)) : 1
    weights[k + radius] = w
    sum += w
  }
  for (let k = 0; k < size; k++) weights[k]! /= sum
  return weights
}

interface Constants {
  readonly c1: number
  readonly c2: number
  readonly covNorm: number
}

const constants = (options: SsimOptions, size: number): Constants => {
  const range = options.dataRange ?? 1
  const c1 = ((options.k1 ?? 0.01) * range) ** 2
  const c2 = ((options.k2 ?? 0.03) * range) ** 2
  const n = size * size
  return { c1, c2, covNorm: options.sampleCovariance === true ? n / (n - 1) : 1 }
}

/**
 * Horizontal window sums of x, y, x^2 + y^2 and xy, kept for the last `size` rows only
 * (a ring), so that the vertical pass reads from cache rather than memory. Only four
 * channels are needed: the SSIM formula uses var(x) + var(y), never either alone.
 */
interface Ring {
  readonly mx: Float64Array
  readonly my: Float64Array
  readonly sq: Float64Array
  readonly xy: Float64Array
  readonly rowSq: Float64Array
  readonly rowXy: Float64Array
}

let spare: Ring | undefined
const ringFor = (size: number, width: number): Ring => {
  const need = size * width
  if (spare === undefined || spare.mx.length < need || spare.rowSq.length < width) {
    spare = {
      mx: new Float64Array(need),
      my: new Float64Array(need),
      sq: new Float64Array(need),
      xy: new Float64Array(need),
      rowSq: new Float64Array(width),
      rowXy: new Float64Array(width)
    }
  }
  return spare
}

/** The SSIM map's value at one position, from the window statistics. */
const ssimAt = (ux: number, uy: number, sq: number, xy: number, k: Constants): number => {
  const uxuy = ux * uy
  const means = ux * ux + uy * uy
  return ((2 * uxuy + k.c1) * (2 * k.covNorm * (xy - uxuy) + k.c2)) /
    ((means + k.c1) * (k.covNorm * (sq - means) + k.c2))
}

/** The mean of the SSIM map over the positions where the window fits, for any odd window. */
export const meanSsim = (x: Pixels, y: Pixels, height: number, width: number, w: Float64Array, k: Constants): number => {
  const size = w.length
  const outH = height - size + 1
  const outW = width - size + 1
  const { mx, my, sq, xy, rowSq, rowXy } = ringFor(size, width)
  const horizontal = (row: number) => {
    const b = row * width
    for (let j = 0; j < width; j++) {
      const a = x[b + j]!, c = y[b + j]!
      rowSq[j] = a * a + c * c
      rowXy[j] = a * c
    }
    const o = (row % size) * outW
    for (let j = 0; j < outW; j++) {
      let sx = 0, sy = 0, ss = 0, sp = 0
      for (let t = 0; t < size; t++) {
        const wt = w[t]!
        sx += wt * x[b + j + t]!
        sy += wt * y[b + j + t]!
        ss += wt * rowSq[j + t]!
        sp += wt * rowXy[j + t]!
      }
      mx[o + j] = sx
      my[o + j] = sy
      sq[o + j] = ss
      xy[o + j] = sp
    }
  }
  for (let row = 0; row < size - 1; row++) horizontal(row)
  let total = 0
  for (let i = 0; i < outH; i++) {
    horizontal(i + size - 1)
    let rowTotal = 0
    for (let j = 0; j < outW; j++) {
      let ux = 0, uy = 0, s = 0, p = 0
      for (let t = 0; t < size; t++) {
        const o = ((i + t) % size) * outW + j
        const wt = w[t]!
        ux += wt * mx[o]!
        uy += wt * my[o]!
        s += wt * sq[o]!
        p += wt * xy[o]!
      }
      rowTotal += ssimAt(ux, uy, s, p, k)
    }
    total += rowTotal
  }
  return total / (outH * outW)
}

/** A window and constants prepared once for many images. */
export interface Prepared {
  readonly weights: Float64Array
  readonly constants: Constants
  readonly shave: number
}

export const prepare = (options: SsimOptions = {}): Prepared => {
  const weights = windowWeights(options)
  return { weights, constants: constants(options, weights.length), shave: options.shave ?? 0 }
}

/** Mean SSIM of one image against its target, with a window and constants prepared by `prepare`. */
export const ssimPrepared = (prediction: Frame, target: Frame, prepared: Prepared): number => {
  if (prediction.height !== target.height || prediction.width !== target.width) {
    throw new ShapeMismatch({ expected: `${target.height}x${target.width}`, actual: `${prediction.height}x${prediction.width}` })
  }
  const a = shave(prediction, prepared.shave)
  const b = shave(target, prepared.shave)
  const size = prepared.weights.length
  if (a.height < size || a.width < size) {
    throw new TooSmall({ what: `SSIM with a ${size}x${size} window`, height: a.height, width: a.width, minimum: size })
  }
  return meanSsim(a.data, b.data, a.height, a.width, prepared.weights, prepared.constants)
}

/** Mean SSIM of one image against its target. */
export const ssim = (prediction: Frame, target: Frame, options: SsimOptions = {}): number =>
  ssimPrepared(prediction, target, prepare(options))

/** SSIM of each image of a stack against its target. */
export const ssimEach = (prediction: Stack, target: Stack, options: SsimOptions = {}): Array<number> => {
  assertSameShape(target, prediction)
  const prepared = prepare(options)
  const targets = frames(target)
  return frames(prediction).map((image, i) => ssimPrepared(image, targets[i]!, prepared))
}

/** The mean of the per-image SSIMs of a stack. */
export const ssimMean = (prediction: Stack, target: Stack, options: SsimOptions = {}): number =>
  mean(ssimEach(prediction, target, options))
