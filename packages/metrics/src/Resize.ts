/**
 * Bicubic resampling with Keys' kernel (a = -0.5), separable, in the convention of PIL
 * and MATLAB's imresize: pixel centres at (i + 0.5) * scale, and when downscaling the
 * kernel is stretched by the scale factor so that it also low-passes (antialiasing).
 * At the borders the kernel is cut off and its weights renormalised, as PIL does.
 */
import { type Frame, frames, type Pixels, type Stack, stack } from "./Image.ts"

const A = -0.5

/** Keys' cubic convolution kernel. */
export const cubic = (t: number): number => {
  const x = Math.abs(t)
  if (x < 1) return ((A + 2) * x - (A + 3)) * x * x + 1
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * A
  return 0
}

/** For each output sample: where its input window starts and its normalised weights. */
export interface Taps {
  readonly size: number
  readonly start: Int32Array
  readonly count: Int32Array
  /** `size` weights per output sample, zero-padded. */
  readonly weights: Float64Array
}

export const taps = (inSize: number, outSize: number): Taps => {
  const scale = inSize / outSize
  const stretch = Math.max(scale, 1)
  const support = 2 * stretch
  const size = Math.ceil(support) * 2 + 1
  const start = new Int32Array(outSize)
  const count = new Int32Array(outSize)
  const weights = new Float64Array(outSize * size)
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0)
    const n = Math.min(Math.trunc(centre + support + 0.5), inSize) - lo
    let sum = 0
    for (let t = 0; t < n; t++) {
      const w = cubic((t + lo - centre + 0.5) / stretch)
      weights[i * size + t] = w
      sum += w
    }
    if (sum !== 0) for (let t = 0; t < n; t++) weights[i * size + t]! /= sum
    start[i] = lo
    count[i] = n
  }
  return { size, start, count, weights }
}

const horizontal = (source: Pixels, height: number, width: number, outWidth: number): Float64Array => {
  const { size, start, count, weights } = taps(width, outWidth)
  const out = new Float64Array(height * outWidth)
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let i = 0; i < outWidth; i++) {
      const from = row + start[i]!
      const w = i * size
      let sum = 0
      for (let t = 0, n = count[i]!; t < n; t++) sum += weights[w + t]! * source[from + t]!
      out[y * outWidth + i] = sum
    }
  }
  return out
}

const vertical = (source: Pixels, height: number, width: number, outHeight: number, out: Pixels): void => {
  const { size, start, count, weights } = taps(height, outHeight)
  const sums = new Float64Array(width)
  for (let i = 0; i < outHeight; i++) {
    sums.fill(0)
    for (let t = 0, n = count[i]!; t < n; t++) {
      const w = weights[i * size + t]!
      const row = (start[i]! + t) * width
      for (let x = 0; x < width; x++) sums[x]! += w * source[row + x]!
    }
    out.set(sums, i * width)
  }
}

/** One image resampled to `height` x `width` (float32, like PIL's mode F). */
export const resize = (image: Frame, height: number, width: number): Frame => {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new RangeError(`resize needs a positive integer size, got ${height}x${width}`)
  }
  const across = width === image.width ? image.data : horizontal(image.data, image.height, image.width, width)
  const data = new Float32Array(height * width)
  if (height === image.height) data.set(across)
  else vertical(across, image.height, width, height, data)
  return { height, width, data }
}

/** Every image of a stack resampled to `height` x `width`. */
export const resizeStack = (source: Stack, height: number, width: number): Stack => {
  const out = stack(source.count, height, width)
  frames(source).forEach((image, i) => out.data.set(resize(image, height, width).data, i * height * width))
  return out
}
