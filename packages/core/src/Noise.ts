/**
 * The noise floor, as pure arithmetic: how far the primary metric moves when the same
 * code is trained again with another seed. It sets the keep threshold when
 * `metric.minDelta` is `"auto"` and turns a gain into a confidence a reviewer can read.
 */
import { Schema } from "effect"

export const NoiseFloor = Schema.Struct({
  /** The commit that was trained again (the baseline, or the incumbent of the time). */
  commit: Schema.String,
  metric: Schema.String,
  seeds: Schema.Array(Schema.Int),
  /** The primary metric of each seed's run, in the order of `seeds`. */
  values: Schema.Array(Schema.Number),
  mean: Schema.Number,
  /** Sample standard deviation (n - 1). */
  sd: Schema.Number,
  /** Median absolute deviation from the median, unscaled. */
  mad: Schema.Number,
  measuredAt: Schema.String
})
export type NoiseFloor = typeof NoiseFloor.Type

/** How many standard deviations `minDelta: "auto"` asks a gain to exceed. */
export const autoSigmas = 2

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Mean and sample standard deviation (n - 1) of one value or more; the sd of one value is 0. */
export const meanAndSd = (values: ReadonlyArray<number>) => {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length
  const sd = values.length < 2 ? 0 : Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (values.length - 1))
  return { mean, sd }
}

/** Mean, sample standard deviation and MAD of at least two values. */
export const spread = (values: ReadonlyArray<number>) => {
  if (values.length < 2 || values.some((value) => !Number.isFinite(value))) {
    throw new Error(`a spread needs at least two finite values, got [${values.join(", ")}]`)
  }
  const { mean, sd } = meanAndSd(values)
  const centre = median(values)
  const mad = median(values.map((value) => Math.abs(value - centre)))
  return { mean, sd, mad }
}

/**
 * The keep threshold in force: a configured number as it is; `"auto"` is `autoSigmas`
 * standard deviations of the latest noise floor, or undefined while none is measured.
 */
export const threshold = (minDelta: number | "auto", noise: NoiseFloor | undefined): number | undefined =>
  minDelta !== "auto" ? minDelta : noise === undefined ? undefined : autoSigmas * noise.sd

/**
 * A gain in units of the noise floor (gain / MAD): how many typical seed-to-seed
 * deviations it is. Undefined without a floor, or when every seed gave the same value.
 */
export const confidence = (gain: number, noise: NoiseFloor | undefined): number | undefined =>
  noise === undefined || noise.mad === 0 ? undefined : gain / noise.mad

/** The seed of the `k`-th noise run (k >= 1): the run's seed plus k; the baseline itself ran with k = 0. */
export const noiseSeed = (seed: number, k: number) => seed + k

/**
 * The seed of confirmation run `k` (k >= 1) of experiment `id`: never one a noise run,
 * another experiment's confirmation, or the experiments' own seed uses.
 */
export const confirmSeed = (seed: number, id: number, k: number) => seed + 1000 * id + k

/** The seeds of `verify`'s reruns: a block of its own, away from noise and confirmation seeds. */
export const verifySeed = (seed: number, k: number) => seed + 1_000_000 + k

/**
 * The value a candidate must beat: the incumbent's recorded value, or the noise floor's
 * mean when the floor was measured on the incumbent's own commit (several seeds say more
 * than one).
 */
export const incumbentValue = (
  incumbent: { readonly commit: string | null; readonly metrics: Readonly<Record<string, number>> } | undefined,
  metric: string,
  noise: NoiseFloor | undefined
): number | undefined =>
  incumbent === undefined
    ? undefined
    : noise !== undefined && noise.metric === metric && noise.commit === incumbent.commit
    ? noise.mean
    : incumbent.metrics[metric]
