import { assert, describe, it } from "@effect/vitest"
import { budgetLeft, defaultStartupSeconds, overBudget, stopReason } from "../src/Budgets.ts"

const spent = (experiments: number, elapsedSeconds: number, usd: number) => ({ experiments, elapsedSeconds, usd })

describe("stopReason", () => {
  it("goes on when no limit is set", () => {
    assert.isUndefined(stopReason({ experimentSeconds: 60 }, spent(1000, 1e9, 1e6)))
  })

  it("goes on while every limit has room left", () => {
    const budget = { experimentSeconds: 60, maxExperiments: 10, maxWallSeconds: 3600, maxCostUsd: 5 }
    assert.isUndefined(stopReason(budget, spent(9, 3599, 4.99)))
  })

  it("stops at max experiments", () => {
    const budget = { experimentSeconds: 60, maxExperiments: 10 }
    assert.isUndefined(stopReason(budget, spent(9, 0, 0)))
    assert.strictEqual(stopReason(budget, spent(10, 0, 0)), "reached max experiments (10)")
    assert.strictEqual(stopReason(budget, spent(11, 0, 0)), "reached max experiments (10)")
  })

  it("stops at once when max experiments is 0", () => {
    assert.strictEqual(stopReason({ experimentSeconds: 60, maxExperiments: 0 }, spent(0, 0, 0)), "reached max experiments (0)")
  })

  it("stops at max wall-clock", () => {
    const budget = { experimentSeconds: 60, maxWallSeconds: 3600 }
    assert.isUndefined(stopReason(budget, spent(0, 3599.9, 0)))
    assert.strictEqual(stopReason(budget, spent(0, 3600, 0)), "reached max wall-clock (3600 s)")
  })

  it("stops at max cost", () => {
    const budget = { experimentSeconds: 60, maxCostUsd: 2.5 }
    assert.isUndefined(stopReason(budget, spent(0, 0, 2.49)))
    assert.strictEqual(stopReason(budget, spent(0, 0, 2.5)), "reached max cost ($2.5)")
  })

  it("reports the experiment limit first when several are reached", () => {
    const budget = { experimentSeconds: 60, maxExperiments: 1, maxWallSeconds: 1, maxCostUsd: 1 }
    assert.strictEqual(stopReason(budget, spent(5, 5, 5)), "reached max experiments (1)")
    assert.strictEqual(stopReason(budget, spent(0, 5, 5)), "reached max wall-clock (1 s)")
  })
})

describe("budgetLeft", () => {
  it("subtracts what was spent from each limit", () => {
    const left = budgetLeft({ experimentSeconds: 60, maxExperiments: 10, maxWallSeconds: 3600, maxCostUsd: 5 }, spent(3, 600, 1.25))
    assert.deepStrictEqual(left, { experiments: 7, seconds: 3000, usd: 3.75 })
  })

  it("clamps at 0 when a limit is overspent", () => {
    const left = budgetLeft({ experimentSeconds: 60, maxExperiments: 2, maxWallSeconds: 10, maxCostUsd: 1 }, spent(5, 100, 3))
    assert.deepStrictEqual(left, { experiments: 0, seconds: 0, usd: 0 })
  })

  it("leaves out the limits that are not set", () => {
    const none = budgetLeft({ experimentSeconds: 60 }, spent(1, 1, 1))
    assert.deepStrictEqual(none, {})
    assert.isFalse("experiments" in none)
    const onlyCost = budgetLeft({ experimentSeconds: 60, maxCostUsd: 4 }, spent(1, 1, 1))
    assert.deepStrictEqual(onlyCost, { usd: 3 })
    assert.deepStrictEqual(Object.keys(onlyCost), ["usd"])
  })
})

describe("overBudget", () => {
  it("allows the start-up allowance past the budget, and no more", () => {
    assert.isFalse(overBudget(109, { experimentSeconds: 100, startupSeconds: 10 }))
    assert.isTrue(overBudget(111, { experimentSeconds: 100, startupSeconds: 10 }))
  })
  it("defaults the allowance to half the grace", () => {
    assert.strictEqual(defaultStartupSeconds(30), 15)
    assert.strictEqual(defaultStartupSeconds(5), 2.5)
  })
})
