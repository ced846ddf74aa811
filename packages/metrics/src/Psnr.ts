/**
 * Peak signal-to-noise ratio: 10 log10(R^2 / MSE) per image, with R the data range
 * (1 for images in [0, 1]); for a stack, the mean of the per-image values. Identical
 * images give +Infinity, as in scikit-image.
 */
import { assertSameShape, type Frame, frames, ShapeMismatch, shave, type Stack } from "./Image.ts"

export interface PsnrOptions {
  /** Distance between the smallest and largest possible value; 1 by default. */
  readonly dataRange?: number
  /** Pixels left out on every side before comparing (the SR convention: the scale). */
  readonly shave?: number
}

export const mse = (prediction: Frame, target: Frame): number => {
  if (prediction.height !== target.height || prediction.width !== target.width) {
    throw new ShapeMismatch({ expected: `${target.height}x${target.width}`, actual: `${prediction.height}x${prediction.width}` })
  }
  const a = prediction.data
  const b = target.data
  let sum = 0
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!
    sum += d * d
  }
  return sum / a.length
}

export const psnrFromMse = (meanSquaredError: number, dataRange = 1): number =>
  10 * Math.log10((dataRange * dataRange) / meanSquaredError)

/** PSNR of one image against its target. */
export const psnr = (prediction: Frame, target: Frame, options: PsnrOptions = {}): number => {
  const border = options.shave ?? 0
  return psnrFromMse(mse(shave(prediction, border), shave(target, border)), options.dataRange ?? 1)
}

/** PSNR of each image of a stack against its target. */
export const psnrEach = (prediction: Stack, target: Stack, options: PsnrOptions = {}): Array<number> => {
  assertSameShape(target, prediction)
  const targets = frames(target)
  return frames(prediction).map((image, i) => psnr(image, targets[i]!, options))
}

export const mean = (values: ReadonlyArray<number>): number =>
  values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length

/** The mean of the per-image PSNRs of a stack. */
export const psnrMean = (prediction: Stack, target: Stack, options: PsnrOptions = {}): number =>
  mean(psnrEach(prediction, target, options))
