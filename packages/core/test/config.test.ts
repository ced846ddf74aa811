import { assert, describe, it } from "@effect/vitest"
import { Layer, Result } from "effect"
import { ConfigError, defineResearch, resolveConfig, validateConfig } from "../src/Config.ts"

const valid = {
  name: "sr",
  mutable: ["train.py", "model.py"],
  immutable: ["prepare.py", "score.py"],
  program: "program.md",
  phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["predict.py"], score: ["score.py"] },
  metric: { name: "val_psnr", direction: "max", minDelta: 0.05, secondary: ["val_ssim"] },
  budget: { experimentSeconds: 300, maxExperiments: 20, maxWallSeconds: 7200, maxCostUsd: 3, confirmRuns: 1 },
  seed: 42,
  syntaxCheck: "python"
}

const minimal = {
  mutable: ["train.py"],
  phases: { train: ["train.py"] },
  metric: { name: "val_mse", direction: "min" },
  budget: { experimentSeconds: 60 }
}

const problems = (input: unknown) => {
  const result = validateConfig(input, "test.config.ts")
  if (Result.isSuccess(result)) assert.fail("expected the config to be rejected")
  assert.instanceOf(result.failure, ConfigError)
  assert.strictEqual(result.failure.source, "test.config.ts")
  return result.failure.problems
}

const problemFor = (input: unknown, field: string) => {
  const all = problems(input)
  const found = all.find((problem) => problem.field === field)
  if (!found) assert.fail(`no problem for ${field}; got ${JSON.stringify(all)}`)
  assert.isAbove(found.reason.length, 0)
  return found.reason
}

describe("validateConfig", () => {
  it("accepts a full valid config and returns it", () => {
    const result = validateConfig(valid, "x")
    assert.isTrue(Result.isSuccess(result))
    if (Result.isSuccess(result)) {
      assert.deepStrictEqual(result.success.mutable, ["train.py", "model.py"])
      assert.strictEqual(result.success.metric.direction, "max")
      assert.strictEqual(result.success.budget.experimentSeconds, 300)
    }
  })

  it("accepts a minimal config, a python command array and layer plug-ins", () => {
    assert.isTrue(Result.isSuccess(validateConfig(minimal, "x")))
    assert.isTrue(Result.isSuccess(validateConfig({ ...minimal, python: ["uv", "run", "python"] }, "x")))
    assert.isTrue(Result.isSuccess(validateConfig({ ...minimal, python: "python3.12", runner: Layer.empty }, "x")))
  })

  it("names a missing mutable list", () => {
    const { mutable: _, ...rest } = minimal
    assert.include(problemFor(rest, "mutable"), "Missing")
  })

  it("names an empty mutable list", () => {
    assert.include(problemFor({ ...minimal, mutable: [] }, "mutable"), "at least 1")
  })

  it("names an absolute path by its index", () => {
    assert.include(problemFor({ ...minimal, mutable: ["/etc/train.py"] }, "mutable.0"), "relative")
    assert.include(problemFor({ ...minimal, immutable: ["ok.py", "/abs.py"] }, "immutable.1"), "relative")
    assert.include(problemFor({ ...minimal, program: "/program.md" }, "program"), "relative")
  })

  it("names a path with '..'", () => {
    assert.include(problemFor({ ...minimal, mutable: ["train.py", "../x.py"] }, "mutable.1"), "'..'")
    assert.include(problemFor({ ...minimal, mutable: ["a/../../x.py"] }, "mutable.0"), "'..'")
    assert.include(problemFor({ ...minimal, mutable: ["a\\..\\x.py"] }, "mutable.0"), "'..'")
  })

  it("names an empty path", () => {
    problemFor({ ...minimal, mutable: [""] }, "mutable.0")
  })

  it("names a wrong direction literal", () => {
    const reason = problemFor({ ...minimal, metric: { name: "val_mse", direction: "down" } }, "metric.direction")
    assert.include(reason, "max")
    assert.include(reason, "min")
  })

  it("names a negative or zero experimentSeconds", () => {
    assert.include(problemFor({ ...minimal, budget: { experimentSeconds: -5 } }, "budget.experimentSeconds"), "greater than 0")
    problemFor({ ...minimal, budget: { experimentSeconds: 0 } }, "budget.experimentSeconds")
  })

  it("names other out-of-range budget and metric fields", () => {
    problemFor({ ...minimal, budget: { experimentSeconds: 60, maxExperiments: 1.5 } }, "budget.maxExperiments")
    problemFor({ ...minimal, budget: { experimentSeconds: 60, maxCostUsd: -1 } }, "budget.maxCostUsd")
    problemFor({ ...minimal, metric: { name: "val_mse", direction: "min", minDelta: -0.1 } }, "metric.minDelta")
    problemFor({ ...minimal, metric: { name: "", direction: "min" } }, "metric.name")
    problemFor({ ...minimal, phases: { train: [] } }, "phases.train")
    problemFor({ ...minimal, syntaxCheck: "ruff" }, "syntaxCheck")
  })

  it("names an unknown extra key, at the top level and nested", () => {
    assert.include(problemFor({ ...minimal, mutabel: ["x.py"] }, "mutabel"), "excess")
    problemFor({ ...minimal, budget: { experimentSeconds: 60, maxExperiment: 3 } }, "budget.maxExperiment")
  })

  it("reports every problem at once", () => {
    const all = problems({
      ...minimal,
      mutable: ["/abs.py"],
      metric: { name: "val_mse", direction: "up" },
      budget: { experimentSeconds: -1 },
      extra: true
    })
    assert.sameMembers(all.map((p) => p.field), ["mutable.0", "metric.direction", "budget.experimentSeconds", "extra"])
  })

  it("names a file that is both mutable and immutable", () => {
    const all = problems({ ...minimal, mutable: ["train.py", "model.py"], immutable: ["model.py", "prepare.py"] })
    assert.deepStrictEqual(all, [{ field: "mutable", reason: "model.py is also listed as immutable" }])
  })

  it("names a file that is both mutable and immutable under another spelling", () => {
    problemFor({ ...minimal, mutable: ["./train.py"], immutable: ["train.py"] }, "mutable")
  })

  it("refuses the config file and the program as mutable: they are always immutable", () => {
    const all = problems({ ...minimal, program: "program.md", mutable: ["train.py", "autoresearch.config.ts", "./program.md"] })
    assert.deepStrictEqual(all, [
      { field: "mutable", reason: "autoresearch.config.ts is always immutable" },
      { field: "mutable", reason: "program.md is always immutable" }
    ])
  })

  it("rejects a non-object with a (root) problem", () => {
    assert.deepStrictEqual(problems(null).map((p) => p.field), ["(root)"])
  })

  it("puts source, field and reason in the message", () => {
    const result = validateConfig({ ...minimal, budget: { experimentSeconds: -1 } }, "my.config.ts")
    assert.isTrue(Result.isFailure(result))
    if (Result.isFailure(result)) {
      assert.include(result.failure.message, "invalid research config (my.config.ts)")
      assert.include(result.failure.message, "budget.experimentSeconds: ")
    }
  })
})

describe("defineResearch", () => {
  it("returns a valid config", () => {
    const config = defineResearch(minimal as Parameters<typeof defineResearch>[0])
    assert.deepStrictEqual(config.mutable, ["train.py"])
  })

  it("throws a ConfigError for an invalid config", () => {
    let thrown: unknown
    try {
      defineResearch({ ...minimal, mutable: [] } as unknown as Parameters<typeof defineResearch>[0])
    } catch (error) {
      thrown = error
    }
    assert.instanceOf(thrown, ConfigError)
    const error = thrown as ConfigError
    assert.strictEqual(error._tag, "ConfigError")
    assert.strictEqual(error.source, "defineResearch")
    assert.deepStrictEqual(error.problems.map((p) => p.field), ["mutable"])
  })
})

describe("resolveConfig", () => {
  const decode = (input: unknown) => {
    const result = validateConfig(input, "x")
    if (Result.isFailure(result)) assert.fail(result.failure.message)
    return result.success
  }

  it("fills in every default", () => {
    const resolved = resolveConfig(decode(minimal))
    assert.deepStrictEqual(resolved.python, ["python3"])
    assert.deepStrictEqual(resolved.immutable, ["autoresearch.config.ts"])
    assert.deepStrictEqual(resolved.metric, { name: "val_mse", direction: "min", minDelta: 0, secondary: [] })
    assert.deepStrictEqual(resolved.budget, {
      experimentSeconds: 60,
      graceSeconds: 6,
      startupSeconds: 3,
      prepareSeconds: 1800,
      predictSeconds: 300,
      confirmRuns: 0,
      noiseRuns: 0,
      verifySeeds: 2
    })
    assert.strictEqual(resolved.seed, 0)
    assert.strictEqual(resolved.syntaxCheck, "python")
  })

  it("takes minDelta \"auto\" only with two noise runs or more", () => {
    const auto = { ...minimal, metric: { name: "val_mse", direction: "min", minDelta: "auto" } }
    problemFor(auto, "metric.minDelta")
    problemFor({ ...auto, budget: { experimentSeconds: 60, noiseRuns: 1 } }, "metric.minDelta")
    const resolved = resolveConfig(decode({ ...auto, budget: { experimentSeconds: 60, noiseRuns: 4 } }))
    assert.strictEqual(resolved.metric.minDelta, "auto")
    assert.strictEqual(resolved.budget.noiseRuns, 4)
  })

  it("gives at least 5 grace seconds, else a tenth of the experiment budget", () => {
    assert.strictEqual(resolveConfig(decode({ ...minimal, budget: { experimentSeconds: 20 } })).budget.graceSeconds, 5)
    assert.strictEqual(resolveConfig(decode({ ...minimal, budget: { experimentSeconds: 600 } })).budget.graceSeconds, 60)
    assert.strictEqual(resolveConfig(decode({ ...minimal, budget: { experimentSeconds: 600, graceSeconds: 0 } })).budget.graceSeconds, 0)
  })

  it("wraps a python string in an array and copies an array", () => {
    assert.deepStrictEqual(resolveConfig(decode({ ...minimal, python: "python3.12" })).python, ["python3.12"])
    const command = ["uv", "run", "python"]
    const resolved = resolveConfig(decode({ ...minimal, python: command })).python
    assert.deepStrictEqual(resolved, command)
  })

  it("adds the program file and autoresearch.config.ts to the immutable files, once each", () => {
    const resolved = resolveConfig(decode({
      ...minimal,
      immutable: ["prepare.py", "program.md", "autoresearch.config.ts"],
      program: "program.md"
    }))
    assert.deepStrictEqual(resolved.immutable, ["prepare.py", "program.md", "autoresearch.config.ts"])
    const added = resolveConfig(decode({ ...minimal, immutable: ["prepare.py"], program: "docs/program.md" }))
    assert.deepStrictEqual(added.immutable, ["prepare.py", "docs/program.md", "autoresearch.config.ts"])
    // one spelling per file, however the config writes it
    const spelled = resolveConfig(decode({ ...minimal, immutable: ["./prepare.py", "program.md"], program: "./program.md" }))
    assert.deepStrictEqual(spelled.immutable, ["prepare.py", "program.md", "autoresearch.config.ts"])
    assert.strictEqual(spelled.program, "program.md")
  })

  it("keeps the values a config sets", () => {
    const resolved = resolveConfig(decode({ ...valid, budget: { ...valid.budget, graceSeconds: 2, prepareSeconds: 10, predictSeconds: 20 } }))
    assert.strictEqual(resolved.metric.minDelta, 0.05)
    assert.deepStrictEqual(resolved.metric.secondary, ["val_ssim"])
    assert.strictEqual(resolved.budget.graceSeconds, 2)
    assert.strictEqual(resolved.budget.prepareSeconds, 10)
    assert.strictEqual(resolved.budget.predictSeconds, 20)
    assert.strictEqual(resolved.budget.confirmRuns, 1)
    assert.strictEqual(resolved.budget.maxExperiments, 20)
    assert.strictEqual(resolved.seed, 42)
    assert.strictEqual(resolved.name, "sr")
    assert.deepStrictEqual(resolved.mutable, ["train.py", "model.py"])
  })

  it("keeps syntaxCheck none", () => {
    assert.strictEqual(resolveConfig(decode({ ...minimal, syntaxCheck: "none" })).syntaxCheck, "none")
  })
})
