/**
 * The Scorer for image restoration: reads the predict phase's predictions and the hidden
 * targets, checks them, computes PSNR (the primary metric), SSIM, LR-consistency and
 * sharpness itself, and gates on the bicubic baseline of the same data (computed once
 * per data fingerprint). Numbers the experiment printed are only compared. It can also
 * report reference predictions written by trusted code, honour a verdict written by the
 * trusted predict step, and, without targets, compute no-reference measures only.
 */
import { type Flag, type JournalEntry, readRegularFile, reportedByTrain, type Score, Scorer, ScorerError, type ScoreInput } from "@autoresearch/core"
import { Effect, Layer, Schema } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { bicubicBaseline, scaleFactor } from "./Baseline.ts"
import { writeCrops } from "./Crops.ts"
import { clamp, describeShape, type Dtype, sameShape, type Stack } from "./Image.ts"
import { ImageFileError, type Loaded, readImage, readUntrustedImage } from "./ImageFile.ts"
import { lrConsistency } from "./LrConsistency.ts"
import { evaluateParallel } from "./Parallel.ts"
import { bicubicStats, noReference, rejectPredictions, verdictRejection } from "./PsnrGatedParts.ts"
import { mean } from "./Psnr.ts"
import type { SsimOptions } from "./Ssim.ts"

export { maxVerdictBytes, verdictRejection } from "./PsnrGatedParts.ts"

export interface PsnrGatedScorerOptions {
  /** The predictions, relative to the run directory. Default `predictions.npy`. */
  readonly predictions?: string
  /**
   * The targets, relative to the hidden directory. Default `hr.npy`. `null` selects the
   * no-reference mode, for real sensor data without ground truth. There is no gate and
   * there are no fidelity metrics, only the no-reference measures `nr_lr_psnr` (primary),
   * `nr_grad_ratio` and `nr_bicubic_lr_psnr`. They show how the output relates to its
   * input, not how faithful it is. This mode needs `inputs` and `scale`.
   */
  readonly targets?: string | null
  /**
   * The low-resolution inputs, relative to the data cache. Default `inputs/lr.npy`;
   * `null` for a task without them (no baseline gate, no LR-consistency).
   */
  readonly inputs?: string | null
  /**
   * The super-resolution factor. Required with `targets: null`, where there are no targets
   * to infer it from; with targets and inputs, it must equal the factor between them.
   */
  readonly scale?: number
  /**
   * Reference predictions written by trusted code (e.g. a classical method), by name, as
   * paths relative to the data cache: `{ shift_add: "hidden/shift_add.npy" }`. Each is
   * scored against the targets as predictions are, once per data fingerprint, and reported
   * as `<name>_psnr` and `<name>_ssim`. They are not gates.
   */
  readonly references?: Readonly<Record<string, string>>
  /**
   * A verdict file the trusted predict step writes into the run directory:
   * `{"status": "ok" | "invalid", "reason"?: string}`. An `invalid` one makes the run
   * invalid with its reason; an unreadable or malformed one does too. A missing one does not.
   */
  readonly verdict?: string
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
   * Where the baseline's and the references' metrics are kept between invocations. By
   * default a `scorer` folder beside the data cache: not inside it, since the loop seals
   * the cache and a new file there would void the next experiment.
   */
  readonly baselineDir?: (input: ScoreInput) => string
  /**
   * Fixed validation crops for the report, written into the state folder (never the run
   * directory) for an experiment's main trial when it is scored against targets: this
   * many crops (default 3; 0 writes none). See `Crops` for the layout. A failed write is
   * skipped, never a scoring failure.
   */
  readonly crops?: number
  /** The side of a crop in target pixels (default 48, less for smaller images). */
  readonly cropSize?: number
  /** The input panel's name in the crops, e.g. `burst reference frame`; default `LR input`. */
  readonly inputLabel?: string
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
  highFrequencyEnergyRatio: "hf_energy_ratio",
  /** No-reference mode (`targets: null`): LR-consistency of the predictions, the primary metric. */
  nrLrPsnr: "nr_lr_psnr",
  /** No-reference mode: gradient energy of the predictions over the bicubic upscaling's. */
  nrGradRatio: "nr_grad_ratio",
  /** No-reference mode: LR-consistency of the bicubic upscaling, for comparison. */
  nrBicubicLrPsnr: "nr_bicubic_lr_psnr"
} as const

/** The metrics a reference prediction named `name` is reported as. */
export const referenceMetricNames = (name: string) => ({ psnr: `${name}_psnr`, ssim: `${name}_ssim` }) as const

/** The research config's `metric` that matches these options. */
export const metricSpec = (options: PsnrGatedScorerOptions = {}): {
  readonly name: string
  readonly direction: "max"
  readonly secondary: Array<string>
} => {
  if (options.targets === null) {
    return { name: metricNames.nrLrPsnr, direction: "max", secondary: [metricNames.nrGradRatio, metricNames.nrBicubicLrPsnr] }
  }
  const references = Object.keys(options.references ?? {}).map((name) => referenceMetricNames(name).psnr)
  return {
    name: metricNames[options.primary ?? "psnr"],
    direction: "max",
    secondary: [
      ...(options.primary === "ssim" ? [metricNames.psnr, metricNames.bicubicSsim] : [metricNames.ssim, metricNames.bicubicPsnr]),
      ...references
    ]
  }
}

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

/** What is wrong with a combination of options, or undefined. */
const problemWith = (options: PsnrGatedScorerOptions): string | undefined => {
  const own = new Set<string>(Object.values(metricNames))
  for (const name of Object.keys(options.references ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) return `references: the name "${name}" is not letters, digits and _ starting with a letter`
    const taken = Object.values(referenceMetricNames(name)).find((metric) => own.has(metric))
    if (taken !== undefined) return `references: the name "${name}" would report ${taken}, which is one of the scorer's own metrics`
  }
  if (options.crops !== undefined && !(Number.isInteger(options.crops) && options.crops >= 0 && options.crops <= 16)) {
    return `crops: ${options.crops} is not a whole number from 0 to 16`
  }
  if (options.cropSize !== undefined && !(Number.isInteger(options.cropSize) && options.cropSize >= 1 && options.cropSize <= 512)) {
    return `cropSize: ${options.cropSize} is not a whole number from 1 to 512`
  }
  if (options.scale !== undefined && !(Number.isInteger(options.scale) && options.scale >= 1)) {
    return `scale: ${options.scale} is not a positive integer`
  }
  if (options.targets !== null) return undefined
  if (options.inputs === null) {
    return "targets: null (no-reference mode) measures the predictions against the low-resolution inputs, but inputs is null too"
  }
  if (options.scale === undefined) {
    return "targets: null (no-reference mode) needs scale, the factor from the inputs to the predictions: there are no targets to infer it from"
  }
  if (options.references !== undefined && Object.keys(options.references).length > 0) {
    return "references are scored against the targets, and targets is null (no-reference mode)"
  }
  if (options.primary !== undefined) return `primary: ${options.primary} needs targets; without them the primary metric is ${metricNames.nrLrPsnr}`
  return undefined
}

const invalid = (reason: string, reported: Record<string, number>, flags: Array<Flag> = []): Score => ({
  status: "invalid",
  reason,
  metrics: {},
  reported,
  flags
})

const scorerError = (reason: string) => new ScorerError({ scorer: NAME, reason })

/** The trusted data a score needs: targets (none in no-reference mode), inputs, their scale, the references. */
interface TrustedData {
  readonly target: Loaded | undefined
  readonly low: Loaded | undefined
  readonly scale: number | undefined
  readonly referenced: ReadonlyArray<{ readonly name: string; readonly loaded: Loaded }>
}

const fingerprint = (parts: ReadonlyArray<Uint8Array>, settings: unknown): string => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part)
  return hash.update(JSON.stringify(settings)).digest("hex").slice(0, 16)
}

const StoredNumbers = Schema.Record(Schema.String, Schema.Finite)
/** The largest file of stored numbers read; a larger one is computed again. */
const maxStoredBytes = 1024 * 1024
const decodeStored = Schema.decodeUnknownOption(Schema.fromJsonString(StoredNumbers))

export const make = (options: PsnrGatedScorerOptions = {}) => {
  const dataRange = options.dataRange ?? 1
  const tolerance = options.tolerance ?? 0.05
  const dtypes = options.dtypes ?? ["float32"]
  const primary = options.targets === null ? metricNames.nrLrPsnr : metricNames[options.primary ?? "psnr"]
  const references = Object.entries(options.references ?? {})
  const crops = options.crops ?? 3
  const problem = problemWith(options)
  const remembered = new Map<string, Readonly<Record<string, number>>>()

  /**
   * Numbers computed from trusted data only (the bicubic baseline, a reference), from
   * memory, from `file` in the baseline folder, or computed and stored there. `file`
   * holds a fingerprint of the data and the settings.
   */
  const stored = Effect.fnUntraced(function*<K extends string>(
    input: ScoreInput,
    file: string,
    fields: ReadonlyArray<K>,
    compute: Effect.Effect<Record<K, number>, ScorerError>
  ): Effect.fn.Return<Readonly<Record<K, number>>, ScorerError> {
    const known = remembered.get(file)
    if (known !== undefined) return known as Record<K, number>
    const dir = options.baselineDir?.(input) ?? path.join(input.stateDir, "scorer")
    const where = path.join(dir, file)
    const kept = yield* Effect.sync(() => {
      // The folder may be one an experiment could write to: whatever stands at the path
      // (a FIFO, a device) is read without waiting, and anything but a regular file is
      // computed again and replaced, as a missing file is.
      const read = readRegularFile(where, maxStoredBytes)
      if (read._tag !== "Text" || read.truncated) return undefined
      const decoded = decodeStored(read.text)
      return decoded._tag === "Some" && fields.every((field) => decoded.value[field] !== undefined)
        ? decoded.value as Record<K, number>
        : undefined
    })
    const numbers = kept ?? (yield* compute)
    if (kept === undefined) {
      // Numbers that cannot be stored are computed again next time: not worth failing for.
      yield* Effect.try(() => {
        fs.mkdirSync(dir, { recursive: true })
        // Whatever stands at the temporary path is removed, not opened (a FIFO there would wait for a reader).
        fs.rmSync(`${where}.tmp`, { force: true })
        fs.writeFileSync(`${where}.tmp`, JSON.stringify(Object.fromEntries(fields.map((field) => [field, numbers[field]]))), { flag: "wx" })
        fs.renameSync(`${where}.tmp`, where)
      }).pipe(Effect.ignore)
    }
    remembered.set(file, numbers)
    return numbers
  })

  const settings = (scale: number | undefined) => ({
    dataRange,
    shave: options.shave === undefined || options.shave === "scale" ? scale ?? 0 : options.shave,
    ...(scale === undefined ? {} : { scale }),
    ...(options.ssim === undefined ? {} : { ssim: options.ssim }),
    ...(options.threads === undefined ? {} : { threads: options.threads })
  })

  /** PSNR (capped per image, as `val_psnr`) and SSIM of a trusted stack (clamped here) against the targets. */
  const measure = (what: string, candidate: Stack, target: Stack, run: ReturnType<typeof settings>) =>
    Effect.tryPromise({
      try: async () => {
        const result = await evaluateParallel(clamp(candidate, 0, dataRange), target, { ...run, diagnostics: false })
        return { psnr: mean(result.psnrEach.map((value) => Math.min(value, maxPsnrDb))), ssim: result.ssim }
      },
      catch: (error) => scorerError(`${what}: ${(error as Error).message}`)
    })

  const readData = Effect.fnUntraced(function*(input: ScoreInput): Effect.fn.Return<TrustedData, ScorerError> {
    const target = options.targets === null
      ? undefined
      : yield* readImage(path.join(input.hiddenDir, options.targets ?? "hr.npy")).pipe(
        Effect.mapError((error) => scorerError(`targets: ${error.message}`))
      )
    const inputsName = options.inputs === undefined ? path.join("inputs", "lr.npy") : options.inputs
    const low = inputsName === null
      ? undefined
      : yield* readImage(path.join(input.cacheDir, inputsName)).pipe(
        Effect.mapError((error) => scorerError(`inputs: ${error.message} (a task without low-resolution inputs sets inputs: null)`))
      )
    let scale = options.scale
    if (low !== undefined && target !== undefined) {
      const inferred = yield* Effect.try({ try: () => scaleFactor(target.stack, low.stack), catch: (error) => scorerError(`inputs: ${(error as Error).message}`) })
      if (scale !== undefined && scale !== inferred) return yield* scorerError(`scale: ${scale}, but the targets are ${inferred} times the inputs`)
      scale = inferred
    }
    const referenced: Array<{ readonly name: string; readonly loaded: Loaded }> = []
    for (const [name, file] of references) {
      if (target === undefined) break
      const loaded = yield* readImage(path.join(input.cacheDir, file)).pipe(Effect.mapError((error) => scorerError(`reference ${name}: ${error.message}`)))
      if (!sameShape(loaded.stack, target.stack)) {
        return yield* scorerError(`reference ${name}: ${loaded.file}: shape ${describeShape(loaded.stack)}, the targets are ${describeShape(target.stack)}`)
      }
      referenced.push({ name, loaded })
    }
    return { target, low, scale, referenced }
  })

  /**
   * The report's crops of an experiment's main trial (its label is its number: not a
   * confirmation, noise or verify run, which must not replace them). `dataKey` already
   * covers the targets and the inputs. Never fails: crops that cannot be written are skipped.
   */
  const saveCrops = (
    input: ScoreInput,
    prediction: Stack,
    { target, low, scale, referenced }: TrustedData & { readonly target: Loaded },
    dataKey: () => string,
    referenceKeys: ReadonlyArray<string>
  ) =>
    Effect.sync(() => {
      if (crops === 0 || !/^(0|[1-9][0-9]*)$/.test(input.experiment.id)) return
      try {
        writeCrops(input.stateDir, input.experiment.id, prediction, {
          target: target.stack,
          low: low === undefined || scale === undefined ? undefined : { stack: low.stack, scale },
          references: referenced.map(({ name, loaded }) => ({ name, stack: loaded.stack })),
          dataKey: [dataKey(), ...referenceKeys].join("|")
        }, {
          crops,
          dataRange,
          maxPsnrDb,
          ...(options.cropSize === undefined ? {} : { size: options.cropSize }),
          ...(options.inputLabel === undefined ? {} : { inputLabel: options.inputLabel })
        })
      } catch {
        // The report shows no images for this experiment; the score stands.
      }
    })

  /** Metrics and gate with targets: fidelity, LR-consistency, sharpness, the bicubic baseline and the references. */
  const withTargets = Effect.fnUntraced(function*(
    input: ScoreInput,
    prediction: Stack,
    { target, low, scale, referenced }: TrustedData & { readonly target: Loaded }
  ) {
    const run = settings(scale)
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

    // Everything below depends on trusted data only: keyed by its bytes and the settings.
    const measured = { shave: run.shave, dataRange, ssim: options.ssim ?? {} }
    const referenceKeys: Array<string> = []
    for (const { name, loaded } of referenced) {
      const key = fingerprint([target.bytes, loaded.bytes], { ...measured, maxPsnrDb })
      referenceKeys.push(`${name}:${key}`)
      const numbers = yield* stored(input, `reference-${name}-${key}.json`, ["psnr", "ssim"], measure(`reference ${name}`, loaded.stack, target.stack, run))
      const names = referenceMetricNames(name)
      metrics[names.psnr] = numbers.psnr
      metrics[names.ssim] = numbers.ssim
    }
    if (low === undefined) {
      yield* saveCrops(input, prediction, { target, low, scale, referenced }, () => fingerprint([target.bytes], {}), referenceKeys)
      return { metrics, gate: undefined }
    }
    metrics[metricNames.lrPsnr] = lrConsistency(prediction, low.stack, dataRange, maxPsnrDb)
    const key = fingerprint([target.bytes, low.bytes], measured)
    yield* saveCrops(input, prediction, { target, low, scale, referenced }, () => key, referenceKeys)
    const bicubic = yield* stored(
      input,
      `bicubic-${key}.json`,
      ["psnr", "ssim"],
      Effect.suspend(() => measure("bicubic baseline", bicubicBaseline(low.stack, target.stack, dataRange), target.stack, run))
    )
    metrics[metricNames.bicubicPsnr] = bicubic.psnr
    metrics[metricNames.bicubicSsim] = bicubic.ssim
    return { metrics, gate: { name: "bicubic", value: options.primary === "ssim" ? bicubic.ssim : bicubic.psnr } }
  })

  /** No-reference metrics: the predictions against the inputs and the inputs' bicubic upscaling. */
  const withoutTargets = Effect.fnUntraced(function*(
    input: ScoreInput,
    prediction: Stack,
    low: Loaded,
    scale: number
  ): Effect.fn.Return<Record<string, number>, ScorerError> {
    const nr = { dataRange, shave: settings(scale).shave, maxPsnrDb }
    const key = fingerprint([low.bytes], { scale, ...nr })
    const compute = <A>(what: string, f: () => A) => Effect.try({ try: f, catch: (error) => scorerError(`${what}: ${(error as Error).message}`) })
    const bicubic = yield* stored(
      input,
      `nr-bicubic-${key}.json`,
      ["lrPsnr", "gradientEnergy"],
      compute("bicubic upscaling", () => bicubicStats(low.stack, scale, nr))
    )
    const own = yield* compute("no-reference metrics", () => noReference(prediction, low.stack, bicubic, nr))
    return {
      [metricNames.nrLrPsnr]: own.lrPsnr,
      [metricNames.nrGradRatio]: own.gradientRatio,
      [metricNames.nrBicubicLrPsnr]: bicubic.lrPsnr
    }
  })

  const score = Effect.fnUntraced(function*(input: ScoreInput): Effect.fn.Return<Score, ScorerError> {
    if (problem !== undefined) return yield* scorerError(problem)
    const reported = reportedByTrain(input.run)
    const data = yield* readData(input)

    // Written by the trusted predict step, but the experiment can write there too: only its "invalid" counts.
    const rejection = options.verdict === undefined ? undefined : verdictRejection(path.join(input.run.runDir, options.verdict), options.verdict)
    if (rejection !== undefined) return invalid(rejection, reported)

    const predictionsName = options.predictions ?? "predictions.npy"
    // Written by the experiment: never read through a link or from a FIFO.
    const loaded = yield* Effect.result(readUntrustedImage(path.join(input.run.runDir, predictionsName), { finite: false }))
    if (loaded._tag === "Failure") {
      const problem = loaded.failure instanceof ImageFileError ? loaded.failure.problem : String(loaded.failure)
      return invalid(`${predictionsName}: ${problem}`, reported)
    }
    const { target, low, scale } = data
    const expected = target?.stack ?? { count: low!.stack.count, height: low!.stack.height * scale!, width: low!.stack.width * scale! }
    const against = target === undefined
      ? `expected ${describeShape(expected)}: the inputs' ${describeShape(low!.stack)} times the scale ${scale}`
      : `the targets are ${describeShape(target.stack)}`
    const rejected = rejectPredictions(loaded.success, predictionsName, dtypes, expected, against)
    if (rejected !== undefined) return invalid(rejected.reason, reported, rejected.flags)
    const prediction = clamp(loaded.success.stack, 0, dataRange)

    const { metrics, gate } = target === undefined
      ? { metrics: yield* withoutTargets(input, prediction, low!, scale!), gate: undefined }
      : yield* withTargets(input, prediction, { ...data, target })

    const flags: Array<Flag> = []
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
