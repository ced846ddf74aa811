import { assert, describe, it } from "@effect/vitest"
import { parseReported } from "../src/Reported.ts"

describe("parseReported", () => {
  it("reads `name: value` and `name = value` lines", () => {
    assert.deepStrictEqual(parseReported("val_psnr: 31.2\nloss = 0.5\n"), { val_psnr: 31.2, loss: 0.5 })
  })

  it("tolerates surrounding whitespace and missing spaces", () => {
    assert.deepStrictEqual(parseReported("  val_bpb:0.998  \n\tsteps=1200\t\n"), { val_bpb: 0.998, steps: 1200 })
  })

  it("reads signs, leading and trailing dots and scientific notation", () => {
    assert.deepStrictEqual(
      parseReported("a: -3\nb: +4\nc: .5\nd: 7.\ne: 1e-3\nf: 2.5E+2\ng: -1.5e3"),
      { a: -3, b: 4, c: 0.5, d: 7, e: 0.001, f: 250, g: -1500 }
    )
  })

  it("reads nan and inf in any case", () => {
    const reported = parseReported("a: nan\nb: NaN\nc: inf\nd: -inf\ne: INF\nf: -Inf")
    assert.isTrue(Number.isNaN(reported.a))
    assert.isTrue(Number.isNaN(reported.b))
    assert.strictEqual(reported.c, Infinity)
    assert.strictEqual(reported.d, -Infinity)
    assert.strictEqual(reported.e, Infinity)
    assert.strictEqual(reported.f, -Infinity)
  })

  it("keeps the last value printed for a name", () => {
    assert.deepStrictEqual(parseReported("loss: 2.0\nloss: 1.0\nother: 3\nloss: 0.25\n"), { loss: 0.25, other: 3 })
  })

  it("handles CRLF line endings", () => {
    assert.deepStrictEqual(parseReported("val_mse: 0.1\r\npeak_vram_mb: 2048\r\n"), { val_mse: 0.1, peak_vram_mb: 2048 })
  })

  it("ignores prose and lines that are not exactly one name and one number", () => {
    const log = [
      "Training started",
      "step 100: loss 0.5",
      "val_psnr: 31.2 dB",
      "loss: 0.5, acc: 0.9",
      "1st: 3",
      "my metric: 4",
      "name: abc",
      "time: 12:30",
      "epoch 3/10",
      "---",
      "",
      "good: 7"
    ].join("\n")
    assert.deepStrictEqual(parseReported(log), { good: 7 })
  })

  it("returns an empty record for an empty log", () => {
    assert.deepStrictEqual(parseReported(""), {})
  })
})
