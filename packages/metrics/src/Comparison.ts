/**
 * Two image files (or stacks) compared the way the scorer compares them, for a person at
 * a terminal: `autoresearch metrics PRED TARGET`. Predictions are clamped to the data
 * range like the scorer's; with the low-resolution input, the bicubic baseline and the
 * LR-consistency are added. Warnings say when a number should not be taken at face value.
 */
import { Effect, Schema } from "effect"
import { bicubicBaseline, scaleFactor } from "./Baseline.ts"
import { type Evaluation } from "./Evaluation.ts"
import { clamp, describeShape, range, sameShape, type Stack } from "./Image.ts"
import { type Loaded, readImage } from "./ImageFile.ts"
import { lrConsistency } from "./LrConsistency.ts"
import { evaluateParallel } from "./Parallel.ts"

/** Files that cannot be compared (each readable on its own), or metrics that failed on them. */
export class ComparisonError extends Schema.TaggedError<ComparisonError>()("ComparisonError", {
  file: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `${this.file}: ${this.problem}`
  }
}

export interface ComparisonOptions {
  /** Border left out; by default the scale when `lr` is given (as the scorer does), else 0. */
  readonly shave?: number
  readonly dataRange?: number
  /** The low-resolution input: adds the bicubic baseline and LR-consistency, and fixes the scale. */
  readonly lr?: string
  /** The super-resolution factor, for the high-frequency energy (taken from `lr` when given). */
  readonly scale?: number
  readonly threads?: number
}

interface FileSummary {
  readonly file: string
  readonly format: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
}

/** The prediction's evaluation, with what was compared and how. */
export interface Comparison extends Evaluation {
  readonly prediction: FileSummary
  readonly target: FileSummary
  readonly lr?: FileSummary
  readonly images: number
  readonly shave: number
  readonly dataRange: number
  readonly scale?: number
  readonly lrPsnr?: number
  readonly bicubicPsnr?: number
  readonly bicubicSsim?: number
  readonly warnings: ReadonlyArray<string>
}

const summary = (loaded: Loaded): FileSummary => ({ file: loaded.file, format: loaded.format, dtype: loaded.dtype, shape: loaded.shape })

const outside = (stack: Stack, hi: number) => {
  let n = 0
  for (let i = 0; i < stack.data.length; i++) if (stack.data[i]! < 0 || stack.data[i]! > hi) n++
  return n
}

const evaluated = (file: string, prediction: Stack, target: Stack, options: Parameters<typeof evaluateParallel>[2]) =>
  Effect.tryPromise({
    try: () => evaluateParallel(prediction, target, options),
    catch: (error) => new ComparisonError({ file, problem: (error as Error).message })
  })

export const compareFiles = Effect.fnUntraced(function*(prediction: string, target: string, options: ComparisonOptions = {}) {
  const dataRange = options.dataRange ?? 1
  const pred = yield* readImage(prediction)
  const truth = yield* readImage(target)
  const low = options.lr === undefined ? undefined : yield* readImage(options.lr)
  if (!sameShape(pred.stack, truth.stack)) {
    return yield* new ComparisonError({
      file: prediction,
      problem: `shape ${describeShape(pred.stack)}, but ${target} is ${describeShape(truth.stack)}: they must have the same shape`
    })
  }
  const scale = low === undefined
    ? options.scale
    : yield* Effect.try({
      try: () => scaleFactor(truth.stack, low.stack),
      catch: (error) => new ComparisonError({ file: options.lr!, problem: (error as Error).message })
    })
  // Like the scorer: with the low-resolution input, the SR convention of a shave of the scale.
  const shave = options.shave ?? (low === undefined ? 0 : scale!)
  const warnings: Array<string> = []
  const clamped = outside(pred.stack, dataRange)
  if (clamped > 0) warnings.push(`${clamped} prediction values outside [0, ${dataRange}] were clamped, as the scorer does`)
  const extent = range(truth.stack.data)
  if (extent.max - extent.min < 0.05 * dataRange) {
    warnings.push(
      `the target spans only ${(extent.min).toPrecision(3)}..${(extent.max).toPrecision(3)} of a data range of ${dataRange}: ` +
        "PSNR is inflated (normalise each scene to its own range before comparing)"
    )
  }
  const settings = {
    dataRange,
    shave,
    ...(scale === undefined ? {} : { scale }),
    ...(options.threads === undefined ? {} : { threads: options.threads })
  }
  const clampedPrediction = clamp(pred.stack, 0, dataRange)
  const result: Evaluation = yield* evaluated(prediction, clampedPrediction, truth.stack, settings)
  let baseline: Evaluation | undefined
  let lrPsnr: number | undefined
  if (low !== undefined) {
    baseline = yield* evaluated(options.lr!, bicubicBaseline(low.stack, truth.stack, dataRange), truth.stack, { ...settings, diagnostics: false })
    lrPsnr = lrConsistency(clampedPrediction, low.stack, dataRange)
  }
  return {
    prediction: summary(pred),
    target: summary(truth),
    ...(low === undefined ? {} : { lr: summary(low) }),
    images: pred.stack.count,
    shave,
    dataRange,
    ...(scale === undefined ? {} : { scale }),
    psnr: result.psnr,
    ssim: result.ssim,
    psnrEach: result.psnrEach,
    ssimEach: result.ssimEach,
    ...(result.gradientEnergyRatio === undefined ? {} : { gradientEnergyRatio: result.gradientEnergyRatio }),
    ...(result.laplacianVarianceRatio === undefined ? {} : { laplacianVarianceRatio: result.laplacianVarianceRatio }),
    ...(result.highFrequencyEnergyRatio === undefined ? {} : { highFrequencyEnergyRatio: result.highFrequencyEnergyRatio }),
    ...(lrPsnr === undefined ? {} : { lrPsnr }),
    ...(baseline === undefined ? {} : { bicubicPsnr: baseline.psnr, bicubicSsim: baseline.ssim }),
    warnings
  } satisfies Comparison
})

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : String(value))

/** The comparison as aligned `name  value  note` lines. */
export const formatComparison = (c: Comparison): string => {
  const rows: Array<[string, string, string]> = []
  const spread = (values: ReadonlyArray<number>, digits: number) =>
    values.length > 1
      ? `min ${fixed(values.reduce((a, b) => Math.min(a, b)), digits)}, max ${fixed(values.reduce((a, b) => Math.max(a, b)), digits)}`
      : ""
  rows.push(["psnr", `${fixed(c.psnr, 4)} dB`, spread(c.psnrEach, 2)])
  rows.push(["ssim", fixed(c.ssim, 6), spread(c.ssimEach, 4)])
  if (c.bicubicPsnr !== undefined) rows.push(["bicubic psnr", `${fixed(c.bicubicPsnr, 4)} dB`, `gain ${fixed(c.psnr - c.bicubicPsnr, 4)} dB`])
  if (c.bicubicSsim !== undefined) rows.push(["bicubic ssim", fixed(c.bicubicSsim, 6), ""])
  if (c.lrPsnr !== undefined) rows.push(["lr psnr", `${fixed(c.lrPsnr, 4)} dB`, "prediction downscaled vs the input"])
  if (c.gradientEnergyRatio !== undefined) rows.push(["gradient energy", fixed(c.gradientEnergyRatio, 4), "prediction / target"])
  if (c.laplacianVarianceRatio !== undefined) rows.push(["laplacian var", fixed(c.laplacianVarianceRatio, 4), "prediction / target"])
  if (c.highFrequencyEnergyRatio !== undefined) {
    rows.push(["hf energy", fixed(c.highFrequencyEnergyRatio, 4), `above the x${c.scale} LR Nyquist, prediction / target`])
  }
  const width = Math.max(...rows.map(([name]) => name.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  const head = `${c.images} image${c.images === 1 ? "" : "s"} of ${c.target.shape.slice(-2).join("x")}` +
    `, data range ${c.dataRange}, shave ${c.shave}`
  const lines = rows.map(([name, value, note]) => `${name.padEnd(width)}  ${value.padStart(valueWidth)}${note ? `  ${note}` : ""}`.trimEnd())
  return [head, ...lines, ...c.warnings.map((warning) => `warning: ${warning}`)].join("\n")
}
