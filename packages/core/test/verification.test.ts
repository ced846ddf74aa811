import { assert, describe, it } from "@effect/vitest"
import * as Environment from "../src/Environment.ts"
import { judge, sample, type VerifiedCommit } from "../src/Verification.ts"

const row = (role: "baseline" | "best", commit: string, recorded: number, validation: Array<number>, test: Array<number> | null): VerifiedCommit => ({
  role,
  id: role === "baseline" ? 0 : 3,
  commit,
  recorded,
  validation: sample(validation.map((_, k) => k + 1), validation),
  test: test === null ? null : sample(test.map((_, k) => k + 1), test)
})

describe("sample", () => {
  it("leaves out seeds that failed and names them", () => {
    const one = sample([1, 2, 3], [30, undefined, 32])!
    assert.deepStrictEqual(one.seeds, [1, 3])
    assert.deepStrictEqual(one.failed, [2])
    assert.strictEqual(one.mean, 31)
    assert.closeTo(one.sd, Math.SQRT2, 1e-12)
    assert.isNull(sample([1], [Number.NaN]))
    assert.strictEqual(sample([1], [30])!.sd, 0)
  })
})

describe("judge", () => {
  it("says a best that reproduces and gains on test by more than twice its standard error is real", () => {
    const rows = [row("baseline", "a", 30, [30.0, 30.1], [29.0, 29.1]), row("best", "b", 31, [30.9, 31.1], [30.0, 30.2])]
    const verdict = judge(rows, "max", 0.1)
    assert.strictEqual(verdict.sd, 0.1)
    assert.closeTo(verdict.tolerance!, 0.2, 1e-12)
    assert.isTrue(verdict.reproduces)
    assert.closeTo(verdict.testGain!, 1.05, 1e-9)
    assert.isTrue(verdict.testGainReal)
  })

  it("says a recorded value that was a lucky seed does not reproduce, and a small test gain is not real", () => {
    const rows = [row("baseline", "a", 30, [30.0, 30.2], [29.0, 29.2]), row("best", "b", 31, [30.1, 30.3], [29.1, 29.3])]
    const verdict = judge(rows, "max", 0.2)
    assert.isFalse(verdict.reproduces)
    assert.closeTo(verdict.testGain!, 0.1, 1e-9)
    assert.isFalse(verdict.testGainReal)
  })

  it("counts a gain in the metric's direction when lower is better", () => {
    const rows = [row("baseline", "a", 0.2, [0.2, 0.2], [0.3, 0.3]), row("best", "b", 0.1, [0.1, 0.1], [0.15, 0.15])]
    const verdict = judge(rows, "min", 0.001)
    assert.closeTo(verdict.testGain!, 0.15, 1e-12)
    assert.isTrue(verdict.testGainReal)
  })

  it("pools the reruns' spread without a noise floor, and cannot tell anything from one seed each", () => {
    const pooled = judge([row("baseline", "a", 30, [30, 31], [29, 30]), row("best", "b", 31, [31, 32], [30, 31])], "max", undefined)
    assert.closeTo(pooled.sd!, Math.SQRT1_2, 1e-12)
    const single = judge([row("baseline", "a", 30, [30], [29]), row("best", "b", 31, [31], [30])], "max", undefined)
    assert.isNull(single.sd)
    assert.isNull(single.reproduces)
    assert.strictEqual(single.testGain, 1)
    assert.isNull(single.testGainReal)
  })

  it("judges the baseline alone when nothing beat it, and has no test verdicts without a test split", () => {
    const alone = judge([row("baseline", "a", 30, [30.05, 29.95], [29, 29.1])], "max", 0.1)
    assert.isTrue(alone.reproduces)
    assert.isNull(alone.testGain)
    const untested = judge([row("baseline", "a", 30, [30], null), row("best", "b", 31, [31], null)], "max", 0.1)
    assert.isNull(untested.testGain)
  })
})

describe("Environment", () => {
  it("names each field two environments disagree on", () => {
    assert.deepStrictEqual(Environment.differences({ python: "3.11.2", torch: "1.13.0" }, { python: "3.11.2", torch: "2.5.1", gpu: "NVIDIA H200" }), [
      "torch: 1.13.0 -> 2.5.1",
      "gpu: none -> NVIDIA H200"
    ])
    assert.deepStrictEqual(Environment.differences({ python: "3.11.2" }, { python: "3.11.2" }), [])
  })

  it("probes python and torch with the research's interpreter, and a GPU only where nvidia-smi answers", () => {
    const env = Environment.probe(["/usr/bin/python3"], "/nonexistent/nvidia-smi")
    assert.match(env.python ?? "", /^3\.\d+/)
    assert.isUndefined(env.driver)
    assert.include(Environment.describe(env), "python ")
    assert.deepStrictEqual(Environment.probe(["/nonexistent/python"], "/nonexistent/nvidia-smi"), {})
  })
})
