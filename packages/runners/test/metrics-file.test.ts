import { assert, describe, it } from "@effect/vitest"
import { parseMetrics, peakVramGb } from "../src/MetricsFile.ts"

describe("parseMetrics", () => {
  it("reads Python's json output, NaN and infinities included", () => {
    const metrics = parseMetrics('{"loss": NaN, "grad": Infinity, "low": -Infinity, "peak_vram_gb": 11.5, "note": "NaN stays a string"}')
    assert.isTrue(Number.isNaN(metrics.loss))
    assert.strictEqual(metrics.grad, Number.POSITIVE_INFINITY)
    assert.strictEqual(metrics.low, Number.NEGATIVE_INFINITY)
    assert.strictEqual(metrics.peak_vram_gb, 11.5)
    assert.notProperty(metrics, "note")
  })

  it("ignores what is not a flat object of numbers", () => {
    assert.deepStrictEqual(parseMetrics("[1, 2]"), {})
    assert.deepStrictEqual(parseMetrics("not json"), {})
    assert.deepStrictEqual(parseMetrics('{"nested": {"a": 1}, "b": 2}'), { b: 2 })
  })
})

describe("peakVramGb", () => {
  it("takes GB or MB, per phase too, the largest when several are given", () => {
    assert.strictEqual(peakVramGb({ peak_vram_gb: 12 }), 12)
    assert.strictEqual(peakVramGb({ peak_vram_mb: 2000 }), 2)
    assert.strictEqual(peakVramGb({ peak_vram_mb: 2000, peak_memory_gb: 3 }), 3)
    assert.strictEqual(peakVramGb({ peak_vram_gb: 11.2, predict_peak_vram_gb: 1.5 }), 11.2)
    assert.isUndefined(peakVramGb({ loss: 1, peak_vram_gb: Number.NaN, speak_vram_gb: 4 }))
  })
})
