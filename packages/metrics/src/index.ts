/**
 * @autoresearch/metrics: image-quality metrics (PSNR, SSIM, bicubic resampling,
 * LR-consistency, sharpness), image files (.npy, PNG, TIFF, false colour), and the
 * scorers: `PsnrGatedScorer` computes the metrics itself; `CommandScorer` runs a trusted
 * scoring command and compares what the experiment printed with what it computed.
 */
export * as Baseline from "./Baseline.ts"
export * as CommandScorer from "./CommandScorer.ts"
export * as Comparison from "./Comparison.ts"
export { DecodeError } from "./DecodeError.ts"
export * as Evaluation from "./Evaluation.ts"
export * as FalseColour from "./FalseColour.ts"
export * as Fft from "./Fft.ts"
export * as Image from "./Image.ts"
export * as ImageFile from "./ImageFile.ts"
export { ImageFileError } from "./ImageFile.ts"
export * as Limits from "./Limits.ts"
export * as LrConsistency from "./LrConsistency.ts"
export * as Npy from "./Npy.ts"
export * as Parallel from "./Parallel.ts"
export * as Png from "./Png.ts"
export * as PsnrGatedScorer from "./PsnrGatedScorer.ts"
export * as Psnr from "./Psnr.ts"
export * as Resize from "./Resize.ts"
export * as Sharpness from "./Sharpness.ts"
export * as Ssim from "./Ssim.ts"
export * as Tiff from "./Tiff.ts"
