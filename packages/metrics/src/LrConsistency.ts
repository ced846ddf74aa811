/**
 * Low-resolution consistency: the prediction downscaled (bicubic, antialiased) back to
 * the input's size and compared with the input by PSNR. A faithful super-resolution
 * explains its input; a low value means the model changed what it was given.
 */
import { type Stack } from "./Image.ts"
import { psnrMean } from "./Psnr.ts"
import { resizeStack } from "./Resize.ts"

export const lrConsistency = (prediction: Stack, low: Stack, dataRange = 1): number =>
  psnrMean(resizeStack(prediction, low.height, low.width), low, { dataRange })
