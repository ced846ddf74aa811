/**
 * The PSNR-gated scorer on a small research layout on disk (cache/inputs/lr.npy,
 * cache/hidden/hr.npy, runs/<id>/predictions.npy and train.log): its metrics equal the
 * metric functions' own, bad predictions are `invalid` with the reason, the bicubic
 * baseline is computed once per data fingerprint outside the sealed cache, and printed
 * numbers and SSIM drops are flagged.
 */
import { assert, describe, it } from "@effect/vitest"
import { type JournalEntry, keepRule, type ScoreInput, Scorer, sealOf } from "@autoresearch/core"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bicubicBaseline } from "../src/Baseline.ts"
import { clamp, stack, type Stack } from "../src/Image.ts"
import { lrConsistency } from "../src/LrConsistency.ts"
import { encodeNpy } from "../src/Npy.ts"
import * as PsnrGatedScorer from "../src/PsnrGatedScorer.ts"
import { psnrMean } from "../src/Psnr.ts"
import { resizeStack } from "../src/Resize.ts"
import { ssimMean } from "../src/Ssim.ts"

const [COUNT, HEIGHT, WIDTH, SCALE] = [3, 48, 40, 2]

/** Thermal-ish ground truth: a warm gradient, a hot disc and fine texture that bicubic cannot recover. */
const truth = (): Stack => {
  const hr = stack(COUNT, HEIGHT, WIDTH)
  for (let n = 0; n < COUNT; n++) {
    for (let y = 0; y < HEIGHT; y++) {
      for (let x = 0; x < WIDTH; x++) {
        const disc = (x - 12 - 6 * n) ** 2 + (y - 20) ** 2 < 64 ? 0.3 : 0
        hr.data[(n * HEIGHT + y) * WIDTH + x] = 0.2 + 0.3 * (x / WIDTH) + disc + 0.08 * Math.sin(x * 2.1 + n) * Math.cos(y * 1.7)
      }
    }
  }
  return hr
}

const hr = truth()
const lr = resizeStack(hr, HEIGHT / SCALE, WIDTH / SCALE)
const bicubic = bicubicBaseline(lr, hr)

/** A prediction between the bicubic baseline and the truth: `t` = 0 is bicubic, 1 the truth. */
const blend = (t: number, offset = 0): Stack => {
  const out = stack(COUNT, HEIGHT, WIDTH)
  for (let i = 0; i < out.data.length; i++) out.data[i] = (1 - t) * bicubic.data[i]! + t * hr.data[i]! + offset
  return out
}

const npy = (s: Stack) => encodeNpy({ dtype: "float32", shape: [s.count, s.height, s.width], data: Float32Array.from(s.data) })

interface Layout {
  readonly root: string
  readonly input: ScoreInput
}

const layout = (predictions: Uint8Array | undefined, options: { log?: string; incumbent?: JournalEntry; targets?: Stack } = {}): Layout => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "psnr-gated-"))
  const cacheDir = path.join(root, "state", "cache")
  const runDir = path.join(root, "state", "runs", "1")
  for (const dir of [path.join(cacheDir, "inputs"), path.join(cacheDir, "hidden"), runDir]) fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(cacheDir, "inputs", "lr.npy"), npy(lr))
  fs.writeFileSync(path.join(cacheDir, "hidden", "hr.npy"), npy(options.targets ?? hr))
  if (predictions !== undefined) fs.writeFileSync(path.join(runDir, "predictions.npy"), predictions)
  const logPath = path.join(runDir, "train.log")
  fs.writeFileSync(logPath, options.log ?? "step 100 loss 0.01\n")
  return {
    root,
    input: {
      experiment: { id: "1", workdir: root, runDir, seed: 0, phases: [], hidden: [] },
      run: {
        status: "ok",
        phases: [{ name: "train", exitCode: 0, signal: null, seconds: 1, logPath, timedOut: false }],
        runDir,
        logTail: ""
      },
      hiddenDir: path.join(cacheDir, "hidden"),
      cacheDir,
      stateDir: path.join(root, "state"),
      incumbent: options.incumbent
    }
  }
}

const score = (input: ScoreInput, options: PsnrGatedScorer.PsnrGatedScorerOptions = {}) =>
  Effect.gen(function*() {
    const scorer = yield* Scorer
    return yield* scorer.score(input)
  }).pipe(Effect.provide(PsnrGatedScorer.layer({ threads: 1, ...options })))

const incumbent = (metrics: Record<string, number>): JournalEntry => ({
  id: 0, parent: null, commit: "abc", status: "keep", metrics, reported: {}, flags: [], description: "baseline",
  hypothesis: "", seconds: {}, cost: { inputTokens: 0, outputTokens: 0, usd: 0 }, fingerprint: "f", seed: 0,
  startedAt: "2025-01-01T00:00:00.000Z", finishedAt: "2025-01-01T00:00:01.000Z"
} as unknown as JournalEntry)

const metric = PsnrGatedScorer.metricSpec()

describe("PsnrGatedScorer", () => {
  it.live("caps an exact image at maxPsnrDb, so one perfect patch cannot make val_psnr infinite", () =>
    Effect.gen(function*() {
      const prediction = blend(0.7)
      prediction.data.set(hr.data.subarray(0, HEIGHT * WIDTH))
      const { input } = layout(npy(prediction))
      const result = yield* score(input)
      assert.strictEqual(result.status, "ok")
      const rest = psnrMean({ ...blend(0.7), count: COUNT - 1, data: blend(0.7).data.subarray(HEIGHT * WIDTH) }, { ...hr, count: COUNT - 1, data: hr.data.subarray(HEIGHT * WIDTH) }, { shave: SCALE })
      assert.closeTo(result.metrics.val_psnr!, (PsnrGatedScorer.maxPsnrDb + rest * (COUNT - 1)) / COUNT, 1e-6)
    }))

  it.live("computes the metrics itself, as the metric functions do, and gates on bicubic", () =>
    Effect.gen(function*() {
      const prediction = blend(0.7)
      const { input } = layout(npy(prediction))
      const result = yield* score(input)
      assert.strictEqual(result.status, "ok")
      const m = result.metrics
      assert.closeTo(m.val_psnr!, psnrMean(prediction, hr, { shave: SCALE }), 1e-9)
      assert.closeTo(m.val_ssim!, ssimMean(prediction, hr, { shave: SCALE }), 1e-9)
      assert.closeTo(m.bicubic_psnr!, psnrMean(bicubic, hr, { shave: SCALE }), 1e-9)
      assert.closeTo(m.bicubic_ssim!, ssimMean(bicubic, hr, { shave: SCALE }), 1e-9)
      assert.closeTo(m.lr_psnr!, lrConsistency(prediction, lr), 1e-9)
      // 70% of the way from bicubic to the truth: the error shrinks by 0.3, PSNR rises by -20 log10(0.3).
      assert.closeTo(m.val_psnr! - m.bicubic_psnr!, -20 * Math.log10(0.3), 1e-3)
      assert.isBelow(m.grad_energy_ratio!, 1)
      assert.isBelow(m.hf_energy_ratio!, 1)
      assert.deepStrictEqual(result.gate, { name: "bicubic", value: m.bicubic_psnr! })
      assert.deepStrictEqual(result.flags, [])
      assert.isTrue(keepRule({ runStatus: "ok", score: result }, undefined, metric).keep)
    }))

  it.live("lets the keep rule reject a prediction no better than bicubic (below-bicubic)", () =>
    Effect.gen(function*() {
      const { input } = layout(npy(bicubic))
      const result = yield* score(input)
      assert.strictEqual(result.status, "ok")
      assert.strictEqual(result.metrics.val_psnr, result.gate!.value)
      const decision = keepRule({ runStatus: "ok", score: result }, undefined, metric)
      assert.isFalse(decision.keep)
      assert.deepStrictEqual(decision.flags, ["below-bicubic"])
    }))

  it.live("clamps predictions to [0, 1] before measuring", () =>
    Effect.gen(function*() {
      const wild = blend(1, 0.6)
      const { input } = layout(npy(wild))
      const result = yield* score(input)
      assert.closeTo(result.metrics.val_psnr!, psnrMean(clamp(wild), hr, { shave: SCALE }), 1e-9)
    }))

  it.live("marks bad predictions invalid, naming the file and the problem", () =>
    Effect.gen(function*() {
      const nan = blend(0.5)
      nan.data[WIDTH * HEIGHT + 3 * WIDTH + 5] = Number.NaN
      nan.data[2 * WIDTH * HEIGHT] = Infinity
      const good = npy(blend(0.5))
      const cases: Array<[Uint8Array | undefined, string, ReadonlyArray<string>]> = [
        [npy(nan), "predictions.npy: 2 non-finite values, the first at image 1, row 3, column 5", ["non-finite"]],
        [undefined, "predictions.npy: no such file", []],
        [good.subarray(0, good.length - 100), "predictions.npy: truncated: shape (3, 48, 40) of float32 needs 23040 bytes of data, found 22940", []],
        [encodeNpy({ dtype: "float64", shape: [3, 48, 40], data: Float64Array.from(hr.data) }), "predictions.npy: dtype float64, expected float32", []],
        [npy(stack(3, 40, 48)), "predictions.npy: shape 3x40x48, the targets are 3x48x40", []],
        [npy(stack(2, 48, 40)), "predictions.npy: shape 2x48x40, the targets are 3x48x40", []]
      ]
      for (const [bytes, reason, flags] of cases) {
        const { input } = layout(bytes)
        const result = yield* score(input)
        assert.strictEqual(result.status, "invalid", reason)
        assert.strictEqual(result.reason, reason)
        assert.deepStrictEqual(result.flags, flags)
        assert.deepStrictEqual(result.metrics, {})
      }
    }))

  it.live("fails as a scorer (not the experiment) when the targets are missing", () =>
    Effect.gen(function*() {
      const { input } = layout(npy(blend(0.5)))
      fs.rmSync(path.join(input.hiddenDir, "hr.npy"))
      const error = yield* Effect.flip(score(input))
      assert.strictEqual(error._tag, "ScorerError")
      assert.strictEqual(error.message, `psnr-gated: targets: ${path.join(input.hiddenDir, "hr.npy")}: no such file`)
    }))

  it.live("flags a printed val_psnr more than 0.05 dB off its own, and keeps every printed number", () =>
    Effect.gen(function*() {
      const prediction = npy(blend(0.7))
      const honest = yield* score(layout(prediction).input)
      const psnr = honest.metrics.val_psnr!
      const close = yield* score(layout(prediction, { log: `val_psnr: ${(psnr + 0.04).toFixed(4)}\n` }).input)
      assert.deepStrictEqual(close.flags, [])
      const far = yield* score(layout(prediction, { log: `val_psnr: ${(psnr + 0.2).toFixed(4)}\nval_ssim: 0.99\n` }).input)
      assert.deepStrictEqual(far.flags, ["metric-mismatch"])
      assert.closeTo(far.reported.val_psnr!, psnr + 0.2, 1e-4)
      assert.strictEqual(far.reported.val_ssim, 0.99)
      assert.isFalse(keepRule({ runStatus: "ok", score: far }, undefined, metric).keep)
      const nan = yield* score(layout(prediction, { log: "val_psnr: nan\n" }).input)
      assert.deepStrictEqual(nan.flags, [])
    }))

  it.live("flags ssim-drop when PSNR rises and SSIM falls against the incumbent, without rejecting", () =>
    Effect.gen(function*() {
      const prediction = npy(blend(0.7))
      const plain = yield* score(layout(prediction).input)
      const { val_psnr: psnr, val_ssim: ssim } = plain.metrics as { val_psnr: number; val_ssim: number }
      const worse = incumbent({ val_psnr: psnr - 1, val_ssim: ssim + 0.001 })
      const dropped = yield* score(layout(prediction, { incumbent: worse }).input)
      assert.deepStrictEqual(dropped.flags, ["ssim-drop"])
      assert.isTrue(keepRule({ runStatus: "ok", score: dropped }, psnr - 1, metric).keep)
      const both = yield* score(layout(prediction, { incumbent: incumbent({ val_psnr: psnr - 1, val_ssim: ssim - 0.001 }) }).input)
      assert.deepStrictEqual(both.flags, [])
    }))

  it.live("computes the bicubic baseline once per data fingerprint, outside the sealed cache", () =>
    Effect.gen(function*() {
      const { root, input } = layout(npy(blend(0.7)))
      const sealed = sealOf(root, [], { cache: input.cacheDir })
      const first = yield* score(input)
      assert.deepStrictEqual(sealOf(root, [], { cache: input.cacheDir }), sealed, "the scorer must not write into the data cache")
      const stored = fs.readdirSync(path.join(root, "state", "scorer"))
      assert.strictEqual(stored.length, 1)
      assert.match(stored[0]!, /^bicubic-[0-9a-f]{16}\.json$/)
      const file = path.join(root, "state", "scorer", stored[0]!)
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")), { psnr: first.metrics.bicubic_psnr, ssim: first.metrics.bicubic_ssim })
      // A fresh scorer reads the stored numbers instead of recomputing them.
      fs.writeFileSync(file, JSON.stringify({ psnr: 12.5, ssim: 0.5 }))
      const again = yield* score(input)
      assert.strictEqual(again.metrics.bicubic_psnr, 12.5)
      assert.deepStrictEqual(again.gate, { name: "bicubic", value: 12.5 })
      // Other targets, another fingerprint: computed afresh.
      fs.writeFileSync(path.join(input.hiddenDir, "hr.npy"), npy(blend(0.9)))
      const other = yield* score(input)
      assert.notStrictEqual(other.metrics.bicubic_psnr, 12.5)
      assert.strictEqual(fs.readdirSync(path.join(root, "state", "scorer")).length, 2)
    }))

  it.live("serves other tasks: SSIM as the gated metric, another shave, no low-resolution inputs", () =>
    Effect.gen(function*() {
      const prediction = blend(0.7)
      const { input } = layout(npy(prediction))
      const bySsim = yield* score(input, { primary: "ssim", shave: 0 })
      assert.closeTo(bySsim.metrics.val_ssim!, ssimMean(prediction, hr), 1e-9)
      assert.deepStrictEqual(bySsim.gate, { name: "bicubic", value: bySsim.metrics.bicubic_ssim! })
      assert.deepStrictEqual(PsnrGatedScorer.metricSpec({ primary: "ssim" }), {
        name: "val_ssim",
        direction: "max",
        secondary: ["val_psnr", "bicubic_ssim"]
      })
      const plain = yield* score(input, { inputs: null })
      assert.isUndefined(plain.gate)
      assert.isUndefined(plain.metrics.lr_psnr)
      assert.closeTo(plain.metrics.val_psnr!, psnrMean(prediction, hr), 1e-9)
      fs.renameSync(path.join(input.hiddenDir, "hr.npy"), path.join(input.hiddenDir, "clean.npy"))
      fs.renameSync(path.join(input.run.runDir, "predictions.npy"), path.join(input.run.runDir, "denoised.npy"))
      const renamed = yield* score(input, { targets: "clean.npy", predictions: "denoised.npy", inputs: null, shave: 3 })
      assert.closeTo(renamed.metrics.val_psnr!, psnrMean(prediction, hr, { shave: 3 }), 1e-9)
    }))
})

describe("PsnrGatedScorer and files the experiment planted", () => {
  it.live("refuses predictions that are a symbolic link or a FIFO, and never blocks on a FIFO log", () =>
    Effect.gen(function*() {
      const { input } = layout(undefined)
      fs.symlinkSync(path.join(input.hiddenDir, "hr.npy"), path.join(input.run.runDir, "predictions.npy"))
      fs.rmSync(input.run.phases[0]!.logPath)
      execFileSync("mkfifo", [input.run.phases[0]!.logPath])
      const linked = yield* score(input)
      assert.strictEqual(linked.status, "invalid")
      assert.include(linked.reason, "predictions.npy: not a regular file")
      fs.rmSync(path.join(input.run.runDir, "predictions.npy"))
      execFileSync("mkfifo", [path.join(input.run.runDir, "predictions.npy")])
      const fifo = yield* score(input)
      assert.strictEqual(fifo.status, "invalid")
      assert.deepStrictEqual(fifo.reported, {})
    }))
})
