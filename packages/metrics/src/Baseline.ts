/**
 * The bicubic baseline of super-resolution: the low-resolution inputs upscaled to the
 * targets' size with bicubic resampling and clamped like a prediction. A model that
 * does not beat it has learnt nothing; the scorer gates on it.
 */
import { clamp, describeShape, ShapeMismatch, type Stack } from "./Image.ts"
import { resizeStack } from "./Resize.ts"

/**
 * The integer factor between a high- and a low-resolution stack of the same count, the
 * same along both axes; throws `ShapeMismatch` otherwise.
 */
export const scaleFactor = (high: Stack, low: Stack): number => {
  const scale = high.height / low.height
  if (high.count !== low.count || !Number.isInteger(scale) || high.width !== low.width * scale) {
    throw new ShapeMismatch({
      expected: `${high.count} low-resolution images, an integer factor smaller than ${describeShape(high)}`,
      actual: describeShape(low)
    })
  }
  return scale
}

/** The low-resolution stack upscaled to the targets' size, clamped to [0, dataRange]. */
export const bicubicBaseline = (low: Stack, target: Pick<Stack, "height" | "width">, dataRange = 1): Stack =>
  clamp(resizeStack(low, target.height, target.width), 0, dataRange)
