/**
 * Property-based tests of the config validator: any value at all, and a valid config with
 * one field replaced by anything, is accepted or rejected with a ConfigError that lists
 * each problem's field and reason; `validateConfig` never throws, and `defineResearch`
 * throws nothing but a ConfigError. The seed is fixed (FUZZ_SEED overrides it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { ConfigError, defineResearch, resolveConfig, validateConfig } from "../src/Config.ts"

const seed = Number(process.env.FUZZ_SEED ?? 1_203_571)

const valid = {
  name: "sr",
  python: ["uv", "run", "python"],
  mutable: ["train.py", "model.py"],
  immutable: ["prepare.py"],
  sources: ["/data/raw"],
  program: "program.md",
  phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["prepare.py", "predict"], score: ["prepare.py", "score"] },
  metric: { name: "val_psnr", direction: "max", minDelta: 0.05, secondary: ["val_ssim"] },
  budget: { experimentSeconds: 300, graceSeconds: 30, maxExperiments: 20, maxWallSeconds: 7200, maxCostUsd: 3, confirmRuns: 1, noiseRuns: 2, memoryGb: 8 },
  seed: 42,
  syntaxCheck: "python"
}

/** Every path to a field of `valid`, e.g. ["budget", "experimentSeconds"]. */
const fieldPaths = (value: unknown, at: ReadonlyArray<string> = []): Array<ReadonlyArray<string>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.entries(value).flatMap(([key, inner]) => [[...at, key], ...fieldPaths(inner, [...at, key])])
    : []

const replaced = (path: ReadonlyArray<string>, value: unknown): unknown => {
  const copy = structuredClone(valid) as Record<string, any>
  let target = copy
  for (const key of path.slice(0, -1)) target = target[key]
  if (value === undefined) delete target[path.at(-1)!]
  else target[path.at(-1)!] = value
  return copy
}

const oddValue = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, -1, 0, 1e308, 2 ** 53, "", "..", "/abs", "a/../../b", [], {}, null, undefined, "auto"),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 })
)

/** The result is a config, or a ConfigError with at least one problem, each with a field and a reason. */
const checkOutcome = (input: unknown) => {
  const result = validateConfig(input, "fuzz.config.ts")
  if (Result.isSuccess(result)) {
    resolveConfig(result.success)
    return
  }
  assert.instanceOf(result.failure, ConfigError)
  assert.isAbove(result.failure.problems.length, 0)
  for (const problem of result.failure.problems) {
    assert.isString(problem.field)
    assert.isAbove(problem.field.length, 0)
    assert.isAbove(problem.reason.length, 0)
  }
  assert.include(result.failure.message, "fuzz.config.ts")
}

describe("validateConfig, fuzzed", () => {
  it("accepts the valid config it starts from", () => {
    assert.isTrue(Result.isSuccess(validateConfig(valid, "fuzz.config.ts")))
  })

  it("rejects any value with a ConfigError of fields and reasons, and never throws", () => {
    fc.assert(fc.property(fc.anything({ maxDepth: 3 }), checkOutcome), { seed, numRuns: 600 })
  })

  it("rejects a valid config with one field replaced by anything with a ConfigError, or accepts it, and never throws", () => {
    fc.assert(fc.property(fc.constantFrom(...fieldPaths(valid)), oddValue, (path, value) => checkOutcome(replaced(path, value))), {
      seed,
      numRuns: 1200
    })
  })

  it("defineResearch throws a ConfigError and nothing else", () => {
    fc.assert(
      fc.property(fc.constantFrom(...fieldPaths(valid)), oddValue, (path, value) => {
        try {
          defineResearch(replaced(path, value) as Parameters<typeof defineResearch>[0])
        } catch (error) {
          assert.instanceOf(error, ConfigError)
        }
      }),
      { seed, numRuns: 400 }
    )
  })
})
