import { assert, describe, it } from "@effect/vitest"
import { entryStatus } from "../src/Decision.ts"
import { beats, type Candidate, keepRule } from "../src/KeepRule.ts"
import type { RunResult } from "../src/RunResult.ts"
import type { Score } from "../src/Score.ts"

const maxMetric = { name: "val_psnr", direction: "max" as const, minDelta: 0.1 }
const minMetric = { name: "val_mse", direction: "min" as const, minDelta: 0.01 }

const score = (metrics: Record<string, number>, extra: Partial<Score> = {}): Score => ({
  status: "ok",
  metrics,
  reported: {},
  flags: [],
  ...extra
})

const ok = (s: Score | undefined): Candidate => ({ runStatus: "ok", score: s })

describe("beats", () => {
  it("compares in the metric's direction, strictly beyond the delta", () => {
    assert.isTrue(beats(2, 1, "max"))
    assert.isFalse(beats(1, 2, "max"))
    assert.isFalse(beats(1, 1, "max"))
    assert.isTrue(beats(1, 2, "min"))
    assert.isFalse(beats(2, 1, "min"))
    assert.isFalse(beats(1, 1, "min"))
    assert.isFalse(beats(1.5, 1, "max", 0.5))
    assert.isTrue(beats(1.6, 1, "max", 0.5))
    assert.isFalse(beats(0.5, 1, "min", 0.5))
    assert.isTrue(beats(0.4, 1, "min", 0.5))
  })
})

describe("keepRule", () => {
  it("keeps an improvement beyond minDelta when higher is better", () => {
    const decision = keepRule(ok(score({ val_psnr: 30.5 })), 30, maxMetric)
    assert.isTrue(decision.keep)
    assert.strictEqual(decision.reason, "val_psnr 30.5000 beats incumbent 30.0000")
    assert.deepStrictEqual(decision.flags, [])
  })

  it("keeps an improvement beyond minDelta when lower is better", () => {
    const decision = keepRule(ok(score({ val_mse: 0.05 })), 0.1, minMetric)
    assert.isTrue(decision.keep)
    assert.include(decision.reason, "beats incumbent")
  })

  it("discards a change in the wrong direction", () => {
    assert.isFalse(keepRule(ok(score({ val_psnr: 29 })), 30, maxMetric).keep)
    assert.isFalse(keepRule(ok(score({ val_mse: 0.2 })), 0.1, minMetric).keep)
  })

  it("discards an improvement within minDelta in either direction", () => {
    const max = keepRule(ok(score({ val_psnr: 30.05 })), 30, maxMetric)
    assert.isFalse(max.keep)
    assert.strictEqual(max.reason, "val_psnr 30.0500 vs incumbent 30.0000: not better by more than 0.1")
    const min = keepRule(ok(score({ val_mse: 0.095 })), 0.1, minMetric)
    assert.isFalse(min.keep)
    assert.include(min.reason, "not better by more than 0.01")
  })

  it("discards a tie when minDelta is absent (it defaults to 0)", () => {
    const metric = { name: "val_psnr", direction: "max" as const }
    assert.isFalse(keepRule(ok(score({ val_psnr: 30 })), 30, metric).keep)
    assert.isTrue(keepRule(ok(score({ val_psnr: 30.0001 })), 30, metric).keep)
  })

  it("discards every run that did not end ok, whatever its score", () => {
    for (const runStatus of ["crash", "timeout", "oom", "killed"] as const) {
      const decision = keepRule({ runStatus, score: score({ val_psnr: 99 }) }, 30, maxMetric)
      assert.isFalse(decision.keep, runStatus)
      assert.strictEqual(decision.reason, `run ended with ${runStatus}`)
    }
  })

  it("discards an unscored or invalid candidate, with the scorer's reason", () => {
    const unscored = keepRule(ok(undefined), 30, maxMetric)
    assert.isFalse(unscored.keep)
    assert.strictEqual(unscored.reason, "not scored")
    const invalid = keepRule(ok(score({ val_psnr: 99 }, { status: "invalid", reason: "predictions missing" })), undefined, maxMetric)
    assert.isFalse(invalid.keep)
    assert.strictEqual(invalid.reason, "predictions missing")
  })

  it("discards a candidate carrying integrity flags, naming them", () => {
    for (const flag of ["immutable-modified", "metric-mismatch", "non-finite", "budget-exceeded"] as const) {
      const decision = keepRule(ok(score({ val_psnr: 99 }, { flags: [flag] })), 30, maxMetric)
      assert.isFalse(decision.keep, flag)
      assert.strictEqual(decision.reason, `integrity: ${flag}`)
    }
    const both = keepRule(ok(score({ val_psnr: 99 }, { flags: ["ssim-drop", "immutable-modified", "metric-mismatch"] })), undefined, maxMetric)
    assert.isFalse(both.keep)
    assert.strictEqual(both.reason, "integrity: immutable-modified, metric-mismatch")
  })

  it("ignores flags that are not integrity flags", () => {
    const decision = keepRule(ok(score({ val_psnr: 31 }, { flags: ["ssim-drop"] })), 30, maxMetric)
    assert.isTrue(decision.keep)
  })

  it("discards a candidate that does not beat the gate, flagging below-<gate>", () => {
    const gate = { name: "bicubic", value: 28 }
    const below = keepRule(ok(score({ val_psnr: 27.5 }, { gate })), undefined, maxMetric)
    assert.isFalse(below.keep)
    assert.deepStrictEqual(below.flags, ["below-bicubic"])
    assert.strictEqual(below.reason, "val_psnr 27.5000 does not beat bicubic 28.0000")
    const equal = keepRule(ok(score({ val_psnr: 28 }, { gate })), undefined, maxMetric)
    assert.isFalse(equal.keep)
    assert.deepStrictEqual(equal.flags, ["below-bicubic"])
    const minGate = keepRule(ok(score({ val_mse: 0.3 }, { gate: { name: "mean", value: 0.2 } })), undefined, minMetric)
    assert.isFalse(minGate.keep)
    assert.deepStrictEqual(minGate.flags, ["below-mean"])
  })

  it("applies the gate before comparing with the incumbent", () => {
    const decision = keepRule(ok(score({ val_psnr: 27.5 }, { gate: { name: "bicubic", value: 28 } })), 20, maxMetric)
    assert.isFalse(decision.keep)
    assert.deepStrictEqual(decision.flags, ["below-bicubic"])
  })

  it("keeps a candidate above the gate when there is no incumbent", () => {
    const decision = keepRule(ok(score({ val_psnr: 28.5 }, { gate: { name: "bicubic", value: 28 } })), undefined, maxMetric)
    assert.isTrue(decision.keep)
  })

  it("keeps the first scored experiment when there is no incumbent", () => {
    const decision = keepRule(ok(score({ val_mse: 5 })), undefined, minMetric)
    assert.isTrue(decision.keep)
    assert.strictEqual(decision.reason, "first scored experiment")
  })

  it("discards a score without the primary metric, or with a non-finite one", () => {
    const cases: Array<Record<string, number>> = [{ other: 1 }, { val_psnr: Number.NaN }, { val_psnr: Infinity }, { val_psnr: -Infinity }]
    for (const metrics of cases) {
      const decision = keepRule(ok(score(metrics)), undefined, maxMetric)
      assert.isFalse(decision.keep, JSON.stringify(metrics))
      assert.strictEqual(decision.reason, "the scorer gave no finite val_psnr")
    }
  })
})

describe("entryStatus", () => {
  const run = (status: RunResult["status"]): RunResult => ({ status, phases: [], runDir: "/run", logTail: "" })
  const keep = { keep: true, reason: "better", flags: [] }
  const discard = { keep: false, reason: "worse", flags: [] }
  const ok: Score = { status: "ok", metrics: { val_psnr: 30 }, reported: {}, flags: [] }

  it("is keep when the decision keeps", () => {
    assert.strictEqual(entryStatus(run("ok"), ok, keep), "keep")
  })
  it("names the run's failure: crash, timeout, oom; an interrupted run counts as a crash", () => {
    assert.strictEqual(entryStatus(run("crash"), undefined, discard), "crash")
    assert.strictEqual(entryStatus(run("timeout"), undefined, discard), "timeout")
    assert.strictEqual(entryStatus(run("oom"), undefined, discard), "oom")
    assert.strictEqual(entryStatus(run("killed"), undefined, discard), "crash")
  })
  it("is invalid for an unscored or invalid score, or modified immutable files", () => {
    assert.strictEqual(entryStatus(run("ok"), undefined, discard), "invalid")
    assert.strictEqual(entryStatus(run("ok"), { ...ok, status: "invalid" }, discard), "invalid")
    assert.strictEqual(entryStatus(run("ok"), { ...ok, flags: ["immutable-modified"] }, discard), "invalid")
  })
  it("is discard for a scored run that was not better", () => {
    assert.strictEqual(entryStatus(run("ok"), ok, discard), "discard")
    assert.strictEqual(entryStatus(run("ok"), { ...ok, flags: ["below-bicubic"] }, discard), "discard")
  })
})
