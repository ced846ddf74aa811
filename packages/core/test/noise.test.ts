import { assert, describe, it } from "@effect/vitest"
import { confidence, confirmSeed, incumbentValue, type NoiseFloor, noiseSeed, spread, threshold, verifySeed } from "../src/Noise.ts"

const floor = (values: Array<number>, commit = "abc"): NoiseFloor => ({
  commit,
  metric: "val_psnr",
  seeds: values.map((_, index) => index),
  values,
  ...spread(values),
  measuredAt: "2026-11-29T00:00:00.000Z"
})

describe("spread", () => {
  it("gives the mean, the sample standard deviation and the median absolute deviation", () => {
    const { mean, sd, mad } = spread([31.54, 31.09, 31.2, 31.42])
    assert.closeTo(mean, 31.3125, 1e-9)
    assert.closeTo(sd, Math.sqrt((0.2275 ** 2 + 0.2225 ** 2 + 0.1125 ** 2 + 0.1075 ** 2) / 3), 1e-9)
    // median 31.31; deviations 0.23, 0.22, 0.11, 0.11 -> median 0.165
    assert.closeTo(mad, 0.165, 1e-9)
  })

  it("refuses fewer than two values, or one that is not finite", () => {
    assert.throws(() => spread([1]), /at least two/)
    assert.throws(() => spread([1, Number.NaN]), /finite/)
  })
})

describe("threshold", () => {
  it("keeps a configured number, and makes auto twice the measured sd", () => {
    const noise = floor([10, 12])
    assert.strictEqual(threshold(0.02, noise), 0.02)
    assert.closeTo(threshold("auto", noise)!, 2 * Math.SQRT2, 1e-12)
    assert.isUndefined(threshold("auto", undefined))
  })
})

describe("confidence", () => {
  it("is the gain in units of the MAD, undefined without a floor or with no spread", () => {
    assert.strictEqual(confidence(0.5, floor([1, 2, 3])), 0.5)
    assert.isUndefined(confidence(0.5, undefined))
    assert.isUndefined(confidence(0.5, floor([2, 2, 2])))
  })
})

describe("incumbentValue", () => {
  const incumbent = { commit: "abc", metrics: { val_psnr: 31.54 } }
  it("uses the floor's mean when the floor was measured on the incumbent's commit", () => {
    assert.strictEqual(incumbentValue(incumbent, "val_psnr", floor([31, 32])), 31.5)
    assert.strictEqual(incumbentValue(incumbent, "val_psnr", floor([31, 32], "other")), 31.54)
    assert.strictEqual(incumbentValue(incumbent, "val_psnr", undefined), 31.54)
    assert.isUndefined(incumbentValue(undefined, "val_psnr", floor([31, 32])))
  })
})

describe("seeds", () => {
  it("never gives a noise, confirmation or verify run a seed another one uses", () => {
    const used = new Set<number>([0])
    const add = (seed: number) => {
      assert.isFalse(used.has(seed), `seed ${seed} used twice`)
      used.add(seed)
    }
    for (let k = 1; k <= 8; k++) add(noiseSeed(0, k))
    for (let id = 1; id <= 200; id++) for (let k = 1; k <= 5; k++) add(confirmSeed(0, id, k))
    for (let k = 1; k <= 8; k++) add(verifySeed(0, k))
  })
})
