/**
 * A prediction stack against its target stack: per image PSNR, SSIM and the sharpness
 * measures, then one summary (means of PSNR and SSIM; sharpness as ratios of summed
 * energies, so that a flat target image cannot blow a ratio up). Pure and synchronous;
 * `Parallel` spreads `evaluatePair` over worker threads.
 */
import { assertSameShape, type Frame, frames, shave, type Stack } from "./Image.ts"
import { mean, mse, psnrFromMse } from "./Psnr.ts"
import { gradientEnergy, highFrequencyEnergies, laplacianVariance, ratio } from "./Sharpness.ts"
import { prepare, type SsimOptions, ssimPrepared } from "./Ssim.ts"

export interface EvaluationOptions {
  /** Distance between the smallest and largest possible value; 1 by default. */
  readonly dataRange?: number
  /** Pixels left out on every side before measuring (the SR convention: the scale); not for the high-frequency energy. */
  readonly shave?: number
  /** SSIM's window and constants; Wang et al. 2004 by default. */
  readonly ssim?: Omit<SsimOptions, "dataRange" | "shave">
  /** Compute the sharpness measures (the default); off, PSNR and SSIM only. */
  readonly diagnostics?: boolean
  /** The super-resolution factor, for the energy above the low-resolution Nyquist frequency. */
  readonly scale?: number
}

/** What one image pair gives; sharpness measures as [prediction, target]. */
export interface PairStats {
  readonly psnr: number
  readonly ssim: number
  readonly gradientEnergy?: readonly [number, number]
  readonly laplacianVariance?: readonly [number, number]
  readonly highFrequencyEnergy?: readonly [number, number]
}

export interface Evaluation {
  readonly psnr: number
  readonly ssim: number
  readonly psnrEach: ReadonlyArray<number>
  readonly ssimEach: ReadonlyArray<number>
  /** Prediction / target; below 1 smoother than the truth. */
  readonly gradientEnergyRatio?: number
  readonly laplacianVarianceRatio?: number
  readonly highFrequencyEnergyRatio?: number
}

export const evaluatePair = (
  prediction: Frame,
  target: Frame,
  options: EvaluationOptions = {},
  prepared = prepare({ ...options.ssim, dataRange: options.dataRange ?? 1 })
): PairStats => {
  const border = options.shave ?? 0
  const p = shave(prediction, border)
  const t = shave(target, border)
  const psnr = psnrFromMse(mse(p, t), options.dataRange ?? 1)
  const ssim = ssimPrepared(p, t, prepared)
  if (options.diagnostics === false) return { psnr, ssim }
  return {
    psnr,
    ssim,
    gradientEnergy: [gradientEnergy(p), gradientEnergy(t)],
    laplacianVariance: [laplacianVariance(p), laplacianVariance(t)],
    // Unshaved: the Hann window already discounts the borders, and the full size is the one
    // with small prime factors (fast FFTs).
    ...(options.scale === undefined ? {} : { highFrequencyEnergy: highFrequencyEnergies(prediction, target, options.scale) })
  }
}

/** Evaluates images `from` to `to` (exclusive) of two stacks. */
export const evaluateRange = (prediction: Stack, target: Stack, from: number, to: number, options: EvaluationOptions = {}): Array<PairStats> => {
  assertSameShape(target, prediction)
  const prepared = prepare({ ...options.ssim, dataRange: options.dataRange ?? 1 })
  const predictions = frames(prediction)
  const targets = frames(target)
  const stats: Array<PairStats> = []
  for (let i = from; i < to; i++) stats.push(evaluatePair(predictions[i]!, targets[i]!, options, prepared))
  return stats
}

const ratioOfSums = (stats: ReadonlyArray<PairStats>, pick: (s: PairStats) => readonly [number, number] | undefined) => {
  if (stats.length === 0 || pick(stats[0]!) === undefined) return undefined
  let prediction = 0
  let target = 0
  for (const s of stats) {
    const [p, t] = pick(s)!
    prediction += p
    target += t
  }
  return ratio(prediction, target)
}

export const summarise = (stats: ReadonlyArray<PairStats>): Evaluation => {
  const psnrEach = stats.map((s) => s.psnr)
  const ssimEach = stats.map((s) => s.ssim)
  const gradient = ratioOfSums(stats, (s) => s.gradientEnergy)
  const laplacian = ratioOfSums(stats, (s) => s.laplacianVariance)
  const high = ratioOfSums(stats, (s) => s.highFrequencyEnergy)
  return {
    psnr: mean(psnrEach),
    ssim: mean(ssimEach),
    psnrEach,
    ssimEach,
    ...(gradient === undefined ? {} : { gradientEnergyRatio: gradient }),
    ...(laplacian === undefined ? {} : { laplacianVarianceRatio: laplacian }),
    ...(high === undefined ? {} : { highFrequencyEnergyRatio: high })
  }
}

/** The whole evaluation on this thread. */
export const evaluate = (prediction: Stack, target: Stack, options: EvaluationOptions = {}): Evaluation =>
  summarise(evaluateRange(prediction, target, 0, prediction.count, options))
