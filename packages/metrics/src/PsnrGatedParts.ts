/**
 * The parts of `PsnrGatedScorer` that need no Scorer: reading the trusted predict step's
 * verdict file, checking predictions before they are measured, and the no-reference
 * measures. Kept apart so that the scorer itself stays readable.
 */
import { type Flag, readRegularFile } from "@autoresearch/core"
import { Result, Schema, SchemaIssue } from "effect"
import * as path from "node:path"
import { bicubicBaseline } from "./Baseline.ts"
import { countNonFinite, describeShape, type Dtype, firstNonFinite, frames, shave, type Stack } from "./Image.ts"
import { type Loaded, locate } from "./ImageFile.ts"
import { lrConsistency } from "./LrConsistency.ts"
import { gradientEnergy, ratio } from "./Sharpness.ts"

// ---------------------------------------------------------------------------------------
// The verdict file
// ---------------------------------------------------------------------------------------

/** The largest verdict file read; a larger one makes the run invalid. */
export const maxVerdictBytes = 64 * 1024

const Verdict = Schema.Struct({ status: Schema.Literals(["ok", "invalid"]), reason: Schema.optional(Schema.String) })
const decodeVerdict = Schema.decodeUnknownResult(Verdict)
const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Why the trusted predict step rejected the run, from its verdict file
 * `{"status": "ok" | "invalid", "reason"?: string}`, or undefined when it accepted the
 * run or wrote no verdict. The experiment can write into the run directory too, so the
 * file is read as untrusted input: no links, no FIFOs, at most `maxVerdictBytes`. A
 * verdict that cannot be read or understood rejects the run, and the reason says why.
 * Only an `invalid` verdict has an effect, so one that the experiment planted can only
 * reject its own run.
 */
export const verdictRejection = (file: string, name = path.basename(file)): string | undefined => {
  const read = readRegularFile(file, maxVerdictBytes)
  if (read._tag === "Missing") return undefined
  if (read._tag === "Refused") return `${name}: ${read.problem}`
  if (read.truncated) return `${name}: ${read.size} bytes, more than the ${maxVerdictBytes} a verdict may have`
  let json: unknown
  try {
    json = JSON.parse(read.text)
  } catch (error) {
    return `${name}: not JSON (${(error as Error).message})`
  }
  const verdict = decodeVerdict(json, { errors: "all" })
  if (Result.isFailure(verdict)) {
    const problems = formatter(verdict.failure.issue).issues.map((issue) => {
      const at = issue.path?.map((key) => (typeof key === "object" ? String(key.key) : String(key))).join(".")
      return `${at || "the file"}: ${issue.message}`
    })
    return `${name}: not a verdict, expected {"status": "ok" | "invalid", "reason"?: string} (${problems.join("; ")})`
  }
  if (verdict.success.status === "ok") return undefined
  const reason = verdict.success.reason
  return reason === undefined || reason.trim() === "" ? "predict rejected the run" : reason
}

// ---------------------------------------------------------------------------------------
// Predictions
// ---------------------------------------------------------------------------------------

export interface Rejection {
  readonly reason: string
  readonly flags: Array<Flag>
}

/**
 * Why decoded predictions cannot be measured, or undefined: a sample type not in
 * `dtypes`, a shape other than `expected` (`against` says where that shape comes from),
 * NaN or infinity (flag `non-finite`).
 */
export const rejectPredictions = (
  predicted: Loaded,
  name: string,
  dtypes: ReadonlyArray<Dtype>,
  expected: Pick<Stack, "count" | "height" | "width">,
  against: string
): Rejection | undefined => {
  if (!dtypes.includes(predicted.dtype)) return { reason: `${name}: dtype ${predicted.dtype}, expected ${dtypes.join(" or ")}`, flags: [] }
  const { count, height, width } = predicted.stack
  if (count !== expected.count || height !== expected.height || width !== expected.width) {
    return { reason: `${name}: shape ${describeShape(predicted.stack)}, ${against}`, flags: [] }
  }
  const firstBad = firstNonFinite(predicted.stack.data)
  if (firstBad < 0) return undefined
  const at = locate(firstBad, predicted.stack)
  return {
    reason: `${name}: ${countNonFinite(predicted.stack.data)} non-finite values, the first at image ${at.image}, row ${at.row}, column ${at.column}`,
    flags: ["non-finite"]
  }
}

// ---------------------------------------------------------------------------------------
// No-reference measures
// ---------------------------------------------------------------------------------------
//
// For real sensor sequences without ground truth, the scorer compares the output with its
// own low-resolution input and with the input's bicubic upscaling. This shows that a
// pipeline runs on real data and how its output relates to the input. It does not show
// fidelity: an output can be consistent with its input and sharp, and still be wrong.
//
// - LR-consistency: the prediction downscaled (bicubic, antialiased) to the input's size,
//   compared with the input by PSNR: `lrConsistency`, each image capped at `maxPsnrDb` as
//   `val_psnr` is.
// - Gradient ratio: the gradient energy (`Sharpness.gradientEnergy`) of the prediction
//   over that of the input's bicubic upscaling, both shaved. The energies are summed over
//   the stack before dividing, as `grad_energy_ratio` does, so one flat frame cannot blow
//   the ratio up (each image weighs in by its bicubic energy). Above 1 the prediction has
//   more edge and texture energy than bicubic (detail, or noise); below 1 it is smoother.

export interface NoReferenceOptions {
  /** The data range; predictions are clamped to [0, dataRange] before they get here. */
  readonly dataRange: number
  /** Border left out of the gradient energy, in high-resolution pixels. */
  readonly shave: number
  /** The most one image contributes to the LR-consistency (an exact match would be +Infinity). */
  readonly maxPsnrDb: number
}

/** What the scorer keeps of the inputs' bicubic upscaling, once per input. */
export interface BicubicStats {
  /** Its LR-consistency, in dB. */
  readonly lrPsnr: number
  /** Its gradient energy, summed over the stack. */
  readonly gradientEnergy: number
}

/** The gradient energies of a stack's frames, each shaved by `border` pixels, summed. */
export const summedGradientEnergy = (images: Stack, border: number): number =>
  frames(images).reduce((sum, image) => sum + gradientEnergy(shave(image, border)), 0)

/** The inputs' bicubic upscaling by `scale` (clamped), measured as a prediction is. */
export const bicubicStats = (low: Stack, scale: number, options: NoReferenceOptions): BicubicStats => {
  const upscaled = bicubicBaseline(low, { height: low.height * scale, width: low.width * scale }, options.dataRange)
  return { lrPsnr: lrConsistency(upscaled, low, options.dataRange, options.maxPsnrDb), gradientEnergy: summedGradientEnergy(upscaled, options.shave) }
}

/** A clamped prediction's no-reference measures, against the inputs and their bicubic upscaling. */
export const noReference = (prediction: Stack, low: Stack, bicubic: BicubicStats, options: NoReferenceOptions) => ({
  lrPsnr: lrConsistency(prediction, low, options.dataRange, options.maxPsnrDb),
  gradientRatio: ratio(summedGradientEnergy(prediction, options.shave), bicubic.gradientEnergy)
})
