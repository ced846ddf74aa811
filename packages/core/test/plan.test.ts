import { assert, describe, it } from "@effect/vitest"
import { defineResearch, resolveConfig } from "../src/Config.ts"
import { cacheLayout, experimentPhases, preparePhase } from "../src/Plan.ts"

const config = resolveConfig(defineResearch({
  python: ["uv", "run", "python"],
  mutable: ["train.py"],
  phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["prepare.py", "predict"] },
  metric: { name: "val_psnr", direction: "max" },
  budget: { experimentSeconds: 60, graceSeconds: 10, predictSeconds: 30, prepareSeconds: 900 },
  seed: 7
}))
const cache = cacheLayout("/state/cache")

describe("experimentPhases", () => {
  const [train, predict] = experimentPhases(config, cache, "/state/runs/3", 8)

  it("trains on the training split only, within budget + grace, with the run's variables", () => {
    assert.deepStrictEqual(train!.command, ["uv", "run", "python", "train.py"])
    assert.strictEqual(train!.timeoutSeconds, 70)
    assert.deepStrictEqual(train!.readable, ["/state/cache/train"])
    assert.deepStrictEqual(train!.writable, [])
    assert.deepStrictEqual(train!.env, {
      AUTORESEARCH_RUN_DIR: "/state/runs/3",
      AUTORESEARCH_SEED: "8",
      AUTORESEARCH_BUDGET_SECONDS: "60",
      AUTORESEARCH_DATA_DIR: "/state/cache/train"
    })
  })

  it("predicts from the validation inputs only, never the targets", () => {
    assert.deepStrictEqual(predict!.command, ["uv", "run", "python", "prepare.py", "predict"])
    assert.strictEqual(predict!.timeoutSeconds, 30)
    assert.deepStrictEqual(predict!.readable, ["/state/cache/inputs"])
    assert.strictEqual(predict!.env.AUTORESEARCH_INPUTS_DIR, "/state/cache/inputs")
    assert.isUndefined(predict!.env.AUTORESEARCH_DATA_DIR)
    assert.notInclude(JSON.stringify(predict), "/state/cache/hidden")
  })

  it("has no predict phase when the config has none", () => {
    const trainOnly = { ...config, phases: { train: ["train.py"] } }
    assert.deepStrictEqual(experimentPhases(trainOnly, cache, "/r", 0).map((phase) => phase.name), ["train"])
  })
})

describe("preparePhase", () => {
  it("writes the cache and alone reads the raw sources", () => {
    const phase = preparePhase(config, "/state/cache", ["/data/frames"])!
    assert.deepStrictEqual(phase.writable, ["/state/cache"])
    assert.deepStrictEqual(phase.readable, ["/data/frames"])
    assert.deepStrictEqual(phase.env, { AUTORESEARCH_CACHE_DIR: "/state/cache", AUTORESEARCH_SEED: "7" })
    assert.strictEqual(phase.timeoutSeconds, 900)
  })
  it("is absent when the config has no prepare command", () => {
    assert.isUndefined(preparePhase({ ...config, phases: { train: ["train.py"] } }, "/c", []))
  })
})
