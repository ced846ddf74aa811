/**
 * The Scorer for image restoration: reads the predict phase's predictions and the hidden
 * targets, checks them, computes PSNR (the primary metric), SSIM, LR-consistency and
 * sharpness itself, and gates on the bicubic baseline of the same data (computed once
 * per data fingerprint). Numbers the experiment printed are only compared.
 */
import { type JournalEntry, reportedByTrain, type Score, Scorer, ScorerError, type ScoreInput } from "@autoresearch/core"
import { Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { bicubicBaseline, scaleFactor } from "./Baseline.ts"
import { clamp, countNonFinite, describeShape, type Dtype, firstNonFinite, sameShape, type Stack } from "./Image.ts"
import { ImageFileError, locate, readImage, readUntrustedImage } from "./ImageFile.ts"
import { lrConsistency } from "./LrConsistency.ts"
import { evaluateParallel } from "./Parallel.ts"
import { mean } from "./Psnr.ts"
import type { SsimOptions } from "./Ssim.ts"

export interface PsnrGatedScorerOptions {
  /** The predictions, relative to the run directory. Default `predictions.npy`. */
  readonly predictions?: string
  /** The targets, relative to the hidden directory. Default `hr.npy`. */
  readonly targets?: string
  /**
   * The low-resolution inputs, relative to the data cache. Default `inputs/lr.npy`;
   * `null` for a task without them (no baseline gate, no LR-consistency).
   */
  readonly inputs?: string | null
  /** The gated metric: `psnr` (default) or `ssim`; both are higher-is-better. */
  readonly primary?: "psnr" | "ssim"
  /** Border left out of every measure: pixels, or `scale` (the SR factor; the default). */
  readonly shave?: number | "scale"
  /** The targets' value range; predictions are clamped to [0, dataRange]. Default 1. */
  readonly dataRange?: number
  /** SSIM's window and constants; Wang et al. 2004 by default. */
  readonly ssim?: Omit<SsimOptions, "dataRange" | "shave">
  /** A printed primary metric further than this from the computed one flags `metric-mismatch`. Default 0.05 (dB). */
  readonly tolerance?: number
  /** Sample types accepted for predictions. Default float32 only. */
  readonly dtypes?: ReadonlyArray<Dtype>
  /** Threads for the metrics; by default one per core for big stacks. */
  readonly threads?: number
  /**
   * Where the baseline's metrics are kept between invocations. By default a `scorer`
   * folder beside the data cache: not inside it, since the loop seals the cache and a new
   * file there would void the next experiment.
   */
  readonly baselineDir?: (input: ScoreInput) => string
}

const NAME = "psnr-gated"

/** The most one image contributes to `val_psnr` (an exact match would be +Infinity). */
export const maxPsnrDb = 100

/** Names of the metrics the scorer computes. */
export const metricNames = {
  psnr: "val_psnr",
  ssim: "val_ssim",
  bicubicPsnr: "bicubic_psnr",
  bicubicSsim: "bicubic_ssim",
  lrPsnr: "lr_psnr",
  gradientEnergyRatio: "grad_energy_ratio",
  laplacianVarianceRatio: "laplacian_var_ratio",
  highFrequencyEnergyRatio: "hf_energy_ratio"
} as const

/** The research config's `metric` that matches these options. */
export const metricSpec = (options: PsnrGatedScorerOptions = {}) => ({
  name: metricNames[options.primary ?? "psnr"],
  direction: "max" as const,
  secondary: options.primary === "ssim" ? [metricNames.psnr, metricNames.bicubicSsim] : [metricNames.ssim, metricNames.bicubicPsnr]
})

/** True when PSNR rose and SSIM fell against the incumbent: worth a human's look, not a rejection. */
export const ssimDrop = (metrics: Readonly<Record<string, number>>, incumbent: JournalEntry | undefined): boolean => {
  const before = incumbent?.metrics
  if (before === undefined) return false
  const [psnr, ssim, psnr0, ssim0] = [metrics[metricNames.psnr], metrics[metricNames.ssim], before[metricNames.psnr], before[metricNames.ssim]]
  if (psnr === undefined || ssim === undefined || psnr0 === undefined || ssim0 === undefined) return false
  return psnr > psnr0 && ssim < ssim0
}

/** True when the experiment printed a finite value for `name` that differs from the computed one by more than `tolerance`. */
export const metricMismatch = (reported: Readonly<Record<string, number>>, computed: number | undefined, name: string, tolerance: number): boolean => {
  const printed = reported[name]
  if (printed === undefined || !Number.isFinite(printed) || computed === undefined) return false
  return !(Math.abs(printed - computed) <= tolerance)
}

interface BaselineMetrics {
  readonly psnr: number
  readonly ssim: number
}

const invalid = (reason: string, reported: Record<string, number>, flags: Array<string> = []): Score => ({
  status: "invalid",
  reason,
  metrics: {},
  reported,
  flags
})

const scorerError = (reason: string) => new ScorerError({ scorer: NAME, reason })

export const make = (options: PsnrGatedScorerOptions = {}) => {
  const dataRange = options.dataRange ?? 1
  const tolerance = options.tolerance ?? 0.05
  const dtypes = options.dtypes ?? ["float32"]
  const primary = metricNames[options.primary ?? "psnr"]
  const remembered = new Map<string, BaselineMetrics>()

  /** The baseline's metrics for this data, from memory, from disk, or computed and stored. */
  const baseline = Effect.fnUntraced(function*(input: ScoreInput, low: Stack, target: Stack, key: string) {
    const known = remembered.get(key)
    if (known !== undefined) return known
    const dir = options.baselineDir?.(input) ?? path.join(input.stateDir, "scorer")
    const file = path.join(dir, `bicubic-${key}.json`)
    const stored = yield* Effect.sync(() => {
      try {
        const value = JSON.parse(fs.readFileSync(file, "utf8")) as BaselineMetrics
        return Number.isFinite(value.psnr) && Number.isFinite(value.ssim) ? value : undefined
      } catch {
        return undefined
      }
    })
    const metrics = stored ?? (yield* Effect.tryPromise({
      try: async () => {
        const upscaled = bicubicBaseline(low, target, dataRange)
        const result = await evaluateParallel(upscaled, target, { ...settings(target, low), diagnostics: false })
        return { psnr: result.psnr, ssim: result.ssim }
      },
      catch: (error) => scorerError(`bicubic baseline: ${(error as Error).message}`)
    }))
    if (stored === undefined) {
      // A baseline that cannot be stored is computed again next time: not worth failing for.
      yield* Effect.try(() => {
        fs.mkdirSync(dir, { recursive: true })
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(metrics))
        fs.renameSync(`${file}.tmp`, file)
      }).pipe(Effect.ignore)
    }
    remembered.set(key, metrics)
    return metrics
  })

  const settings = (target: Stack, low: Stack | undefined) => {
    const scale = low === undefined ? undefined : scaleFactor(target, low)
    const shave = options.shave === undefined || options.shave === "scale" ? scale ?? 0 : options.shave
    return {
      dataRange,
      shave,
      ...(scale === undefined ? {} : { scale }),
      ...(options.ssim === undefined ? {} : { ssim: options.ssim }),
      ...(options.threads === undefined ? {} : { threads: options.threads })
    }
  }

  const score = Effect.fnUntraced(function*(input: ScoreInput) {
    const reported = reportedByTrain(input.run)
    const targetFile = path.join(input.hiddenDir, options.targets ?? "hr.npy")
    const target = yield* readImage(targetFile).pipe(Effect.mapError((error) => scorerError(`targets: ${error.message}`)))
    const inputsName = options.inputs === undefined ? path.join("inputs", "lr.npy") : options.inputs
    const low = inputsName === null
      ? undefined
      : yield* readImage(path.join(input.cacheDir, inputsName)).pipe(
        Effect.mapError((error) => scorerError(`inputs: ${error.message} (a task without low-resolution inputs sets inputs: null)`))
      )
    if (low !== undefined) {
      yield* Effect.try({ try: () => scaleFactor(target.stack, low.stack), catch: (error) => scorerError(`inputs: ${(error as Error).message}`) })
    }

    const predictionsName = options.predictions ?? "predictions.npy"
    const predictionsFile = path.join(input.run.runDir, predictionsName)
    // Written by the experiment: never read through a link or from a FIFO.
    const loaded = yield* Effect.result(readUntrustedImage(predictionsFile, { finite: false }))
    if (loaded._tag === "Failure") {
      const problem = loaded.failure instanceof ImageFileError ? loaded.failure.problem : String(loaded.failure)
      return invalid(`${predictionsName}: ${problem}`, reported)
    }
    const predicted = loaded.success
    if (!dtypes.includes(predicted.dtype)) {
      return invalid(`${predictionsName}: dtype ${predicted.dtype}, expected ${dtypes.join(" or ")}`, reported)
    }
    if (!sameShape(predicted.stack, target.stack)) {
      return invalid(`${predictionsName}: shape ${describeShape(predicted.stack)}, the targets are ${describeShape(target.stack)}`, reported)
    }
    const firstBad = firstNonFinite(predicted.stack.data)
    if (firstBad >= 0) {
      const at = locate(firstBad, predicted.stack)
      return invalid(
        `${predictionsName}: ${countNonFinite(predicted.stack.data)} non-finite values, the first at image ${at.image}, row ${at.row}, column ${at.column}`,
        reported,
        ["non-finite"]
      )
    }
    const prediction = clamp(predicted.stack, 0, dataRange)
    const run = settings(target.stack, low?.stack)
    const evaluation = yield* Effect.tryPromise({
      try: () => evaluateParallel(prediction, target.stack, run),
      catch: (error) => scorerError(`metrics: ${(error as Error).message}`)
    })

    const metrics: Record<string, number> = {
      // An exact patch has infinite PSNR; capped per image, it cannot make the mean infinite.
      [metricNames.psnr]: mean(evaluation.psnrEach.map((value) => Math.min(value, maxPsnrDb))),
      [metricNames.ssim]: evaluation.ssim
    }
    if (evaluation.gradientEnergyRatio !== undefined) metrics[metricNames.gradientEnergyRatio] = evaluation.gradientEnergyRatio
    if (evaluation.laplacianVarianceRatio !== undefined) metrics[metricNames.laplacianVarianceRatio] = evaluation.laplacianVarianceRatio
    if (evaluation.highFrequencyEnergyRatio !== undefined) metrics[metricNames.highFrequencyEnergyRatio] = evaluation.highFrequencyEnergyRatio

    let gate: Score["gate"]
    if (low !== undefined) {
      metrics[metricNames.lrPsnr] = lrConsistency(prediction, low.stack, dataRange)
      const key = createHash("sha256")
        .update(target.bytes)
        .update(low.bytes)
        .update(JSON.stringify({ shave: run.shave, dataRange, ssim: options.ssim ?? {} }))
        .digest("hex")
        .slice(0, 16)
      const bicubic = yield* baseline(input, low.stack, target.stack, key)
      metrics[metricNames.bicubicPsnr] = bicubic.psnr
      metrics[metricNames.bicubicSsim] = bicubic.ssim
      gate = { name: "bicubic", value: options.primary === "ssim" ? bicubic.ssim : bicubic.psnr }
    }

    const flags: Array<string> = []
    if (metricMismatch(reported, metrics[primary], primary, tolerance)) flags.push("metric-mismatch")
    if (ssimDrop(metrics, input.incumbent)) flags.push("ssim-drop")
    return {
      status: "ok",
      metrics,
      reported,
      ...(gate === undefined ? {} : { gate }),
      flags
    } satisfies Score
  })

  return Scorer.of({ name: NAME, score })
}

export const layer = (options: PsnrGatedScorerOptions = {}) => Layer.succeed(Scorer, make(options))
