/**
 * Low-resolution consistency: the prediction downscaled (bicubic, antialiased) back to
 * the input's size and compared with the input by PSNR. A faithful super-resolution
 * explains its input; a low value means the model changed what it was given.
 */
import { type Stack } from "./Image.ts"
import { mean, psnrEach } from "./Psnr.ts"
import { resizeStack } from "./Resize.ts"

/** The mean over images of the PSNR (dB), each capped at `maxDb` (an exact image would be +Infinity). */
export const lrConsistency = (prediction: Stack, low: Stack, dataRange = 1, maxDb = Number.POSITIVE_INFINITY): number =>
  mean(psnrEach(resizeStack(prediction, low.height, low.width), low, { dataRange }).map((value) => Math.min(value, maxDb)))
