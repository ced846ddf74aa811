/**
 * What `verify` found, and the arithmetic that judges it, as pure functions: the best
 * (or a chosen) kept commit and the baseline are trained again with fresh seeds and
 * scored on validation and on the test split that no experiment saw. Does the recorded
 * validation value reproduce within the noise floor, how far is test from validation,
 * and is the test gain over the baseline larger than the seed-to-seed spread?
 */
import { Schema } from "effect"
import { RunEnvironment } from "./Environment.ts"
import { meanAndSd } from "./Noise.ts"

/** A metric over several seeds: the finite values, their mean and sample standard deviation (0 for one). */
export const Sample = Schema.Struct({
  seeds: Schema.Array(Schema.Int),
  values: Schema.Array(Schema.Number),
  /** Seeds whose run or score failed; their values are left out. */
  failed: Schema.Array(Schema.Int),
  mean: Schema.Number,
  sd: Schema.Number
})
export type Sample = typeof Sample.Type

export const VerifiedCommit = Schema.Struct({
  role: Schema.Literals(["baseline", "best"]),
  /** The journal entry the commit was kept as. */
  id: Schema.Int,
  commit: Schema.String,
  /** The primary metric the journal recorded for it (validation). */
  recorded: Schema.Number,
  validation: Schema.NullOr(Sample),
  /** Null when the data cache has no test split, or no seed ran to the end. */
  test: Schema.NullOr(Sample)
})
export type VerifiedCommit = typeof VerifiedCommit.Type

export const Verification = Schema.Struct({
  verifiedAt: Schema.String,
  metric: Schema.String,
  direction: Schema.Literals(["max", "min"]),
  rows: Schema.Array(VerifiedCommit),
  /** The spread one seed's value is taken to have: the noise floor's sd, else the spread of these reruns. */
  sd: Schema.NullOr(Schema.Number),
  /** How far the rerun validation mean may sit from the recorded value and still reproduce it (2 sd). */
  tolerance: Schema.NullOr(Schema.Number),
  /** The best commit's rerun validation mean is within `tolerance` of the recorded value. */
  reproduces: Schema.NullOr(Schema.Boolean),
  /** Best minus baseline on test, positive when better in the metric's direction. */
  testGain: Schema.NullOr(Schema.Number),
  /** The test gain exceeds twice its standard error (from `sd` and the seeds of each). */
  testGainReal: Schema.NullOr(Schema.Boolean),
  env: RunEnvironment,
  warnings: Schema.Array(Schema.String)
})
export type Verification = typeof Verification.Type

/** The sample of the seeds' values (NaN or undefined for a seed that failed). */
export const sample = (seeds: ReadonlyArray<number>, values: ReadonlyArray<number | undefined>): Sample | null => {
  const finite = seeds.flatMap((seed, index) => {
    const value = values[index]
    return value !== undefined && Number.isFinite(value) ? [{ seed, value }] : []
  })
  if (finite.length === 0) return null
  const kept = finite.map((one) => one.value)
  return {
    seeds: finite.map((one) => one.seed),
    values: kept,
    failed: seeds.filter((seed) => !finite.some((one) => one.seed === seed)),
    ...meanAndSd(kept)
  }
}

/** The pooled sample standard deviation of several samples (undefined without two values in one). */
const pooledSd = (samples: ReadonlyArray<Sample>): number | undefined => {
  const degrees = samples.reduce((sum, one) => sum + Math.max(0, one.values.length - 1), 0)
  if (degrees === 0) return undefined
  return Math.sqrt(samples.reduce((sum, one) => sum + Math.max(0, one.values.length - 1) * one.sd ** 2, 0) / degrees)
}

/**
 * The verdicts of a verification from its rows: the spread of one seed (`noiseSd` when
 * the noise floor was measured, else pooled over the reruns), whether the best's
 * validation value reproduces within 2 sd, and whether its test gain over the baseline
 * exceeds twice its standard error.
 */
export const judge = (
  rows: ReadonlyArray<VerifiedCommit>,
  direction: "max" | "min",
  noiseSd: number | undefined
): Pick<Verification, "sd" | "tolerance" | "reproduces" | "testGain" | "testGainReal"> => {
  const baseline = rows.find((row) => row.role === "baseline")
  // When nothing beat the baseline, the baseline is the best.
  const best = rows.find((row) => row.role === "best") ?? baseline
  const samples = rows.flatMap((row) => [row.validation, row.test].filter((one): one is Sample => one !== null))
  const sd = noiseSd ?? pooledSd(samples)
  const tolerance = sd === undefined ? null : 2 * sd
  const reproduces = best?.validation == null || tolerance === null
    ? null
    : Math.abs(best.validation.mean - best.recorded) <= tolerance
  const sign = direction === "max" ? 1 : -1
  if (baseline?.test == null || best?.test == null || baseline.commit === best.commit) {
    return { sd: sd ?? null, tolerance, reproduces, testGain: null, testGainReal: null }
  }
  const testGain = sign * (best.test.mean - baseline.test.mean)
  const standardError = sd === undefined ? undefined : sd * Math.sqrt(1 / baseline.test.values.length + 1 / best.test.values.length)
  return {
    sd: sd ?? null,
    tolerance,
    reproduces,
    testGain,
    testGainReal: standardError === undefined ? null : testGain > 2 * standardError
  }
}
