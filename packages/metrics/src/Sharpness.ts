/**
 * Sharpness diagnostics for reports, each compared as prediction / target: below 1 the
 * prediction is smoother than the truth, above 1 it has invented detail or noise.
 * Gradient energy (mean squared forward difference along each axis), variance of the
 * 4-neighbour Laplacian, and the energy above the low-resolution Nyquist frequency.
 */
import { fft } from "./Fft.ts"
import type { Frame } from "./Image.ts"

/** Mean of dx^2 plus mean of dy^2, dx and dy forward differences. */
export const gradientEnergy = (image: Frame): number => {
  const { height, width, data } = image
  let sx = 0
  let sy = 0
  for (let y = 0; y < height; y++) {
    const row = y * width
    for (let x = 0; x < width - 1; x++) {
      const d = data[row + x + 1]! - data[row + x]!
      sx += d * d
    }
    if (y + 1 < height) {
      for (let x = 0; x < width; x++) {
        const d = data[row + width + x]! - data[row + x]!
        sy += d * d
      }
    }
  }
  const nx = height * (width - 1)
  const ny = (height - 1) * width
  return (nx > 0 ? sx / nx : 0) + (ny > 0 ? sy / ny : 0)
}

/** Population variance of the 4-neighbour Laplacian over the interior pixels. */
export const laplacianVariance = (image: Frame): number => {
  const { height, width, data } = image
  if (height < 3 || width < 3) return Number.NaN
  let sum = 0
  let sumSq = 0
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x
      const v = data[i - width]! + data[i + width]! + data[i - 1]! + data[i + 1]! - 4 * data[i]!
      sum += v
      sumSq += v * v
    }
  }
  const n = (height - 2) * (width - 2)
  const m = sum / n
  return Math.max(0, sumSq / n - m * m)
}

/** numpy's `hanning`: 0.5 - 0.5 cos(2 pi i / (n - 1)), and [1] for n = 1. */
export const hann = (n: number): Float64Array => {
  const w = new Float64Array(n)
  for (let i = 0; i < n; i++) w[i] = n === 1 ? 1 : 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1))
  return w
}

/** Signed frequency of DFT bin k of n, in cycles per pixel. */
const frequency = (k: number, n: number) => (k <= n / 2 ? k : k - n) / n

/**
 * Mean squared value of the part of each image above the Nyquist frequency of an image
 * `scale` times smaller (|f| > 1 / (2 scale) cycles per pixel along either axis). The
 * mean is removed and a Hann window applied first, so that the borders do not leak into
 * the high frequencies. Both images go through one complex transform (a + ib), their
 * spectra separated by symmetry; only the low-frequency columns need a second pass, the
 * others' energy follows from Parseval's theorem.
 */
export const highFrequencyEnergies = (a: Frame, b: Frame, scale: number): readonly [number, number] => {
  const { height, width } = a
  const mean = (data: Frame["data"]) => {
    let sum = 0
    for (let i = 0; i < data.length; i++) sum += data[i]!
    return sum / data.length
  }
  const [meanA, meanB] = [mean(a.data), mean(b.data)]
  const wy = hann(height)
  const wx = hann(width)
  const half = Math.floor(width / 2)
  // Row spectra of both images, columns 0..width/2 (the rest mirror them).
  const aRe = new Float64Array(height * (half + 1)), aIm = new Float64Array(height * (half + 1))
  const bRe = new Float64Array(height * (half + 1)), bIm = new Float64Array(height * (half + 1))
  const re = new Float64Array(width)
  const im = new Float64Array(width)
  const across = fft(width)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      re[x] = (a.data[y * width + x]! - meanA) * wy[y]! * wx[x]!
      im[x] = (b.data[y * width + x]! - meanB) * wy[y]! * wx[x]!
    }
    across(re, im)
    for (let k = 0; k <= half; k++) {
      const j = (width - k) % width
      const at = y * (half + 1) + k
      // A = (Z[k] + conj Z[-k]) / 2, B = (Z[k] - conj Z[-k]) / 2i
      aRe[at] = (re[k]! + re[j]!) / 2
      aIm[at] = (im[k]! - im[j]!) / 2
      bRe[at] = (im[k]! + im[j]!) / 2
      bIm[at] = (re[j]! - re[k]!) / 2
    }
  }
  const cutoff = 1 / (2 * scale)
  const colRe = new Float64Array(height)
  const colIm = new Float64Array(height)
  const down = fft(height)
  const energy = (specRe: Float64Array, specIm: Float64Array) => {
    let total = 0
    for (let k = 0; k <= half; k++) {
      const weight = k === 0 || 2 * k === width ? 1 : 2
      let sum = 0
      if (Math.abs(frequency(k, width)) > cutoff) {
        for (let y = 0; y < height; y++) {
          const at = y * (half + 1) + k
          sum += specRe[at]! * specRe[at]! + specIm[at]! * specIm[at]!
        }
        sum *= height
      } else {
        for (let y = 0; y < height; y++) {
          colRe[y] = specRe[y * (half + 1) + k]!
          colIm[y] = specIm[y * (half + 1) + k]!
        }
        down(colRe, colIm)
        for (let y = 0; y < height; y++) {
          if (Math.abs(frequency(y, height)) > cutoff) sum += colRe[y]! * colRe[y]! + colIm[y]! * colIm[y]!
        }
      }
      total += weight * sum
    }
    const n = height * width
    return total / (n * n)
  }
  return [energy(aRe, aIm), energy(bRe, bIm)]
}

/** The high-frequency energy of one image (see `highFrequencyEnergies`). */
export const highFrequencyEnergy = (image: Frame, scale: number): number =>
  highFrequencyEnergies(image, { ...image, data: new Float64Array(image.data.length) }, scale)[0]

/** prediction / target, or NaN where the target has none of the quantity. */
export const ratio = (prediction: number, target: number): number => (target > 0 ? prediction / target : Number.NaN)
