/**
 * The PSNR-gated scorer on a small research layout on disk (cache/inputs/lr.npy,
 * cache/hidden/hr.npy, runs/<id>/predictions.npy and train.log): its metrics equal the
 * metric functions' own, bad predictions are `invalid` with the reason, the bicubic
 * baseline is computed once per data fingerprint outside the sealed cache, and printed
 * numbers and SSIM drops are flagged. Then the options for multi-frame and real data:
 * trusted reference predictions, the predict step's verdict, and the no-reference mode.
 */
import { assert, describe, it } from "@effect/vitest"
import { type JournalEntry, keepRule, type ScoreInput, Scorer, sealOf } from "@autoresearch/core"
import { Effect } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
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
      experiment: { id: "1", workdir: root, runDir, seed: 0, hidden: [] },
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
  it.live("reads its stored baseline without waiting on a FIFO planted in its place, and stores it again", () =>
    Effect.gen(function*() {
      const { root, input } = layout(npy(blend(0.7)))
      yield* score(input)
      const [name] = fs.readdirSync(path.join(root, "state", "scorer"))
      const file = path.join(root, "state", "scorer", name!)
      const numbers = JSON.parse(fs.readFileSync(file, "utf8")) as { psnr: number }
      fs.rmSync(file)
      execFileSync("mkfifo", [file])
      execFileSync("mkfifo", [`${file}.tmp`])
      // In a child process with a time limit: a blocking open fails this test instead of hanging it.
      const script = `import { Effect } from "effect"
import * as PsnrGatedScorer from ${JSON.stringify(path.resolve(import.meta.dirname, "../src/PsnrGatedScorer.ts"))}
const score = await Effect.runPromise(PsnrGatedScorer.make({ threads: 1 }).score(${JSON.stringify(input)}))
process.stdout.write(JSON.stringify(score.metrics))`
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        cwd: path.resolve(import.meta.dirname, ".."),
        encoding: "utf8",
        timeout: 20_000
      })
      assert.isNull(child.signal, `the scorer did not finish in 20 s (killed by ${child.signal})`)
      assert.strictEqual(child.status, 0, child.stderr)
      assert.closeTo((JSON.parse(child.stdout) as Record<string, number>).bicubic_psnr!, numbers.psnr, 1e-9)
      // Computed again and stored as a regular file in place of the FIFO.
      assert.isTrue(fs.lstatSync(file).isFile())
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(file, "utf8")).psnr, numbers.psnr)
      assert.isFalse(fs.existsSync(`${file}.tmp`))
    }))
})

const scorerFiles = (root: string) => fs.readdirSync(path.join(root, "state", "scorer")).sort()

describe("PsnrGatedScorer references: trusted predictions reported beside the experiment's", () => {
  const withReferences = (...stacks: ReadonlyArray<readonly [string, Stack]>) => {
    const setup = layout(npy(blend(0.7)))
    for (const [name, s] of stacks) fs.writeFileSync(path.join(setup.input.cacheDir, "hidden", `${name}.npy`), npy(s))
    const references = Object.fromEntries(stacks.map(([name]) => [name, `hidden/${name}.npy`]))
    return { ...setup, references }
  }

  it.live("scores each reference as predictions are: the targets themselves cap at 100 dB, bicubic gives bicubic's numbers", () =>
    Effect.gen(function*() {
      const { root, input, references } = withReferences(["exact", hr], ["classic", bicubic])
      const sealed = sealOf(root, [], { cache: input.cacheDir })
      const plain = yield* score(input)
      const result = yield* score(input, { references })
      assert.strictEqual(result.status, "ok")
      const m = result.metrics
      assert.strictEqual(m.exact_psnr, PsnrGatedScorer.maxPsnrDb)
      assert.closeTo(m.exact_ssim!, 1, 1e-12)
      assert.strictEqual(m.classic_psnr, m.bicubic_psnr)
      assert.strictEqual(m.classic_ssim, m.bicubic_ssim)
      // They are reported, not gated on, and change nothing else.
      assert.deepStrictEqual({ ...m, exact_psnr: undefined, exact_ssim: undefined, classic_psnr: undefined, classic_ssim: undefined }, {
        ...plain.metrics,
        exact_psnr: undefined,
        exact_ssim: undefined,
        classic_psnr: undefined,
        classic_ssim: undefined
      })
      assert.deepStrictEqual(result.gate, plain.gate)
      assert.deepStrictEqual(sealOf(root, [], { cache: input.cacheDir }), sealed, "the scorer must not write into the data cache")
      assert.deepStrictEqual(PsnrGatedScorer.metricSpec({ references }), {
        name: "val_psnr",
        direction: "max",
        secondary: ["val_ssim", "bicubic_psnr", "exact_psnr", "classic_psnr"]
      })
      assert.deepStrictEqual(PsnrGatedScorer.referenceMetricNames("shift_add"), { psnr: "shift_add_psnr", ssim: "shift_add_ssim" })
    }))

  it.live("computes a reference's numbers once per data fingerprint and keeps them beside the cache", () =>
    Effect.gen(function*() {
      const { root, input, references } = withReferences(["shift_add", blend(0.4)])
      const first = yield* score(input, { references })
      assert.closeTo(first.metrics.shift_add_psnr!, psnrMean(blend(0.4), hr, { shave: SCALE }), 1e-9)
      assert.closeTo(first.metrics.shift_add_ssim!, ssimMean(blend(0.4), hr, { shave: SCALE }), 1e-9)
      const stored = scorerFiles(root).filter((file) => file.startsWith("reference-"))
      assert.strictEqual(stored.length, 1)
      assert.match(stored[0]!, /^reference-shift_add-[0-9a-f]{16}\.json$/)
      // A fresh scorer takes the stored numbers instead of computing them again.
      fs.writeFileSync(path.join(root, "state", "scorer", stored[0]!), JSON.stringify({ psnr: 12.5, ssim: 0.25 }))
      const again = yield* score(input, { references })
      assert.strictEqual(again.metrics.shift_add_psnr, 12.5)
      assert.strictEqual(again.metrics.shift_add_ssim, 0.25)
      // Another reference file, another fingerprint: computed afresh.
      fs.writeFileSync(path.join(input.cacheDir, "hidden", "shift_add.npy"), npy(blend(0.5)))
      const other = yield* score(input, { references })
      assert.closeTo(other.metrics.shift_add_psnr!, psnrMean(blend(0.5), hr, { shave: SCALE }), 1e-9)
      assert.strictEqual(scorerFiles(root).filter((file) => file.startsWith("reference-")).length, 2)
    }))

  it.live("fails as a scorer when a reference is missing or of another shape, naming the file", () =>
    Effect.gen(function*() {
      const { input } = layout(npy(blend(0.7)))
      const file = path.join(input.cacheDir, "hidden", "shift_add.npy")
      const missing = yield* Effect.flip(score(input, { references: { shift_add: "hidden/shift_add.npy" } }))
      assert.strictEqual(missing._tag, "ScorerError")
      assert.strictEqual(missing.message, `psnr-gated: reference shift_add: ${file}: no such file`)
      fs.writeFileSync(file, npy(stack(COUNT, HEIGHT, WIDTH + 1)))
      const shape = yield* Effect.flip(score(input, { references: { shift_add: "hidden/shift_add.npy" } }))
      assert.strictEqual(shape.message, `psnr-gated: reference shift_add: ${file}: shape 3x48x41, the targets are 3x48x40`)
      // Even when the predictions are bad: the trusted side is checked first.
      fs.rmSync(path.join(input.run.runDir, "predictions.npy"))
      const still = yield* Effect.flip(score(input, { references: { shift_add: "hidden/shift_add.npy" } }))
      assert.strictEqual(still._tag, "ScorerError")
    }))

  it.live("refuses reference names that are not identifiers or would overwrite the scorer's own metrics", () =>
    Effect.gen(function*() {
      const { input } = layout(npy(blend(0.7)))
      for (const [name, message] of [
        ["val", `the name "val" would report val_psnr`],
        ["bicubic", `the name "bicubic" would report bicubic_psnr`],
        ["shift-add", `the name "shift-add" is not letters, digits and _`]
      ] as const) {
        const error = yield* Effect.flip(score(input, { references: { [name]: "hidden/hr.npy" } }))
        assert.strictEqual(error._tag, "ScorerError")
        assert.include(error.message, message)
      }
    }))
})

describe("PsnrGatedScorer verdict: the trusted predict step's word on the run", () => {
  const options = { verdict: "verdict.json" }
  const withVerdict = (verdict: string | undefined, predictions: Uint8Array | undefined = npy(blend(0.7))) => {
    const { input } = layout(predictions)
    if (verdict !== undefined) fs.writeFileSync(path.join(input.run.runDir, "verdict.json"), verdict)
    return input
  }

  it.live("makes the run invalid with the verdict's reason, before looking at the predictions", () =>
    Effect.gen(function*() {
      const rejected = yield* score(withVerdict(JSON.stringify({ status: "invalid", reason: "frame 3 was read from the future" }), undefined), options)
      assert.deepStrictEqual(rejected, {
        status: "invalid",
        reason: "frame 3 was read from the future",
        metrics: {},
        reported: {},
        flags: []
      })
      const bare = yield* score(withVerdict(`{"status": "invalid"}`), options)
      assert.strictEqual(bare.status, "invalid")
      assert.strictEqual(bare.reason, "predict rejected the run")
    }))

  it.live("scores as usual when the verdict is ok or absent", () =>
    Effect.gen(function*() {
      const plain = yield* score(withVerdict(undefined))
      const ok = yield* score(withVerdict(`{"status": "ok"}`), options)
      assert.deepStrictEqual(ok, plain)
      const absent = yield* score(withVerdict(undefined), options)
      assert.deepStrictEqual(absent, plain)
    }))

  it.live("makes the run invalid when the verdict is a link, a FIFO, too big, not JSON or not a verdict, and says so", () =>
    Effect.gen(function*() {
      const linked = withVerdict(undefined)
      const elsewhere = path.join(linked.cacheDir, "ok.json")
      fs.writeFileSync(elsewhere, `{"status": "ok"}`)
      fs.symlinkSync(elsewhere, path.join(linked.run.runDir, "verdict.json"))
      const fifo = withVerdict(undefined)
      execFileSync("mkfifo", [path.join(fifo.run.runDir, "verdict.json")])
      const cases: Array<[ScoreInput, string | RegExp]> = [
        [linked, "verdict.json: not a regular file (a symbolic link)"],
        [fifo, "verdict.json: not a regular file (a FIFO)"],
        [withVerdict(`{"status": "ok", "pad": "${"x".repeat(PsnrGatedScorer.maxVerdictBytes)}"}`), /^verdict\.json: \d+ bytes, more than the 65536 a verdict may have$/],
        [withVerdict("status: ok"), /^verdict\.json: not JSON \(/],
        [withVerdict(""), /^verdict\.json: not JSON \(/],
        [withVerdict(`{"status": "fine"}`), `verdict.json: not a verdict, expected {"status": "ok" | "invalid", "reason"?: string} (status: Expected "ok" | "invalid")`],
        [withVerdict(`{"status": "invalid", "reason": 3}`), /^verdict\.json: not a verdict, .* \(reason: /],
        [withVerdict(`["ok"]`), /^verdict\.json: not a verdict/]
      ]
      for (const [input, reason] of cases) {
        const result = yield* score(input, options)
        assert.strictEqual(result.status, "invalid", String(reason))
        if (typeof reason === "string") assert.strictEqual(result.reason, reason)
        else assert.match(result.reason!, reason)
        assert.deepStrictEqual(result.flags, [])
      }
    }))
})

describe("PsnrGatedScorer without targets: no-reference measures for real sequences", () => {
  const options = { targets: null, scale: SCALE } as const
  const withoutTargets = (predictions: Uint8Array | undefined, log?: string) => {
    const setup = layout(predictions, log === undefined ? {} : { log })
    // No ground truth: the scorer must not need it.
    fs.rmSync(path.join(setup.input.hiddenDir, "hr.npy"))
    return setup
  }

  it.live("compares the predictions with the inputs and their bicubic upscaling: bicubic itself gives ratio 1", () =>
    Effect.gen(function*() {
      const { root, input } = withoutTargets(npy(bicubic))
      const result = yield* score(input, options)
      assert.strictEqual(result.status, "ok")
      assert.deepStrictEqual(Object.keys(result.metrics).sort(), ["nr_bicubic_lr_psnr", "nr_grad_ratio", "nr_lr_psnr"])
      assert.closeTo(result.metrics.nr_grad_ratio!, 1, 1e-12)
      assert.strictEqual(result.metrics.nr_lr_psnr, result.metrics.nr_bicubic_lr_psnr)
      assert.closeTo(result.metrics.nr_lr_psnr!, lrConsistency(bicubic, lr), 1e-9)
      assert.isUndefined(result.gate)
      assert.deepStrictEqual(result.flags, [])
      const metric = PsnrGatedScorer.metricSpec(options)
      assert.deepStrictEqual(metric, { name: "nr_lr_psnr", direction: "max", secondary: ["nr_grad_ratio", "nr_bicubic_lr_psnr"] })
      assert.isTrue(keepRule({ runStatus: "ok", score: result }, undefined, metric).keep)
      const stored = scorerFiles(root)
      assert.strictEqual(stored.length, 1)
      assert.match(stored[0]!, /^nr-bicubic-[0-9a-f]{16}\.json$/)
      // A fresh scorer takes the stored numbers: the bicubic upscaling is computed once per input.
      const file = path.join(root, "state", "scorer", stored[0]!)
      const kept = JSON.parse(fs.readFileSync(file, "utf8")) as { lrPsnr: number; gradientEnergy: number }
      assert.strictEqual(kept.lrPsnr, result.metrics.nr_bicubic_lr_psnr)
      fs.writeFileSync(file, JSON.stringify({ lrPsnr: 12.5, gradientEnergy: kept.gradientEnergy * 2 }))
      const again = yield* score(input, options)
      assert.strictEqual(again.metrics.nr_bicubic_lr_psnr, 12.5)
      assert.closeTo(again.metrics.nr_grad_ratio!, 0.5, 1e-12)
    }))

  it.live("sees detail bicubic lacks as a gradient ratio above 1, and caps each image's LR-consistency", () =>
    Effect.gen(function*() {
      const { input } = withoutTargets(npy(hr))
      const result = yield* score(input, options)
      assert.isAbove(result.metrics.nr_grad_ratio!, 1.2)
      // lr is hr downscaled: the truth explains its input (to float32 rounding), far better than bicubic does.
      assert.isAbove(result.metrics.nr_lr_psnr!, result.metrics.nr_bicubic_lr_psnr! + 10)
      assert.isAtMost(result.metrics.nr_lr_psnr!, PsnrGatedScorer.maxPsnrDb)
      const smooth = yield* score(withoutTargets(npy(resizeStack(resizeStack(lr, HEIGHT / 2 / SCALE, WIDTH / 2 / SCALE), HEIGHT, WIDTH))).input, options)
      assert.isBelow(smooth.metrics.nr_grad_ratio!, 1)
      // What the experiment printed is compared with the primary metric, nr_lr_psnr, as always.
      const lying = yield* score(withoutTargets(npy(hr), "nr_lr_psnr: 20.0\n").input, options)
      assert.deepStrictEqual(lying.flags, ["metric-mismatch"])
    }))

  it.live("checks the predictions against the inputs' shape times the scale", () =>
    Effect.gen(function*() {
      const nan = Float32Array.from(bicubic.data)
      nan[7] = Number.NaN
      const cases: Array<[Uint8Array | undefined, string, ReadonlyArray<string>]> = [
        [npy(stack(COUNT, HEIGHT, WIDTH + 1)), "predictions.npy: shape 3x48x41, expected 3x48x40: the inputs' 3x24x20 times the scale 2", []],
        [npy(lr), "predictions.npy: shape 3x24x20, expected 3x48x40: the inputs' 3x24x20 times the scale 2", []],
        [encodeNpy({ dtype: "float32", shape: [COUNT, HEIGHT, WIDTH], data: nan }), "predictions.npy: 1 non-finite values, the first at image 0, row 0, column 7", ["non-finite"]],
        [undefined, "predictions.npy: no such file", []]
      ]
      for (const [bytes, reason, flags] of cases) {
        const result = yield* score(withoutTargets(bytes).input, options)
        assert.strictEqual(result.status, "invalid", reason)
        assert.strictEqual(result.reason, reason)
        assert.deepStrictEqual(result.flags, flags)
      }
    }))

  it.live("fails as a scorer when it has nothing to measure against or no scale", () =>
    Effect.gen(function*() {
      const { input } = withoutTargets(npy(bicubic))
      const cases: Array<[PsnrGatedScorer.PsnrGatedScorerOptions, string]> = [
        [{ targets: null, inputs: null, scale: 2 }, "inputs is null too"],
        [{ targets: null }, "needs scale"],
        [{ targets: null, scale: 1.5 }, "scale: 1.5 is not a positive integer"],
        [{ targets: null, scale: 2, references: { shift_add: "hidden/shift_add.npy" } }, "references are scored against the targets"],
        [{ targets: null, scale: 2, primary: "ssim" }, "primary: ssim needs targets"]
      ]
      for (const [options, message] of cases) {
        const error = yield* Effect.flip(score(input, options))
        assert.strictEqual(error._tag, "ScorerError")
        assert.include(error.message, message)
      }
      fs.rmSync(path.join(input.cacheDir, "inputs", "lr.npy"))
      const noInputs = yield* Effect.flip(score(input, options))
      assert.include(noInputs.message, "inputs: ")
      // With targets, a scale given must be theirs.
      const wrong = yield* Effect.flip(score(layout(npy(bicubic)).input, { scale: 3 }))
      assert.strictEqual(wrong.message, "psnr-gated: scale: 3, but the targets are 2 times the inputs")
    }))
})
