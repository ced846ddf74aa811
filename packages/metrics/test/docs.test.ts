/**
 * docs/metrics.md's worked example: the Scorer plug-in printed there is the one in
 * test/examples/MaeScorer.ts, character for character, and it scores as the text says.
 * (The page's other examples are run by packages/cli/test/docs.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { type ScoreInput, Scorer, validateConfig } from "@autoresearch/core"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { encodeNpy } from "../src/Npy.ts"
import * as PsnrGatedScorer from "../src/PsnrGatedScorer.ts"
import { MaeScorer } from "./examples/MaeScorer.ts"

const page = fs.readFileSync(path.resolve(import.meta.dirname, "..", "..", "..", "docs", "metrics.md"), "utf8")
const blocks = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)

const setup = (denoised: Float32Array | undefined, log = "") => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mae-"))
  const hiddenDir = path.join(root, "hidden")
  const runDir = path.join(root, "run")
  fs.mkdirSync(hiddenDir)
  fs.mkdirSync(runDir)
  fs.writeFileSync(path.join(hiddenDir, "clean.npy"), encodeNpy({ dtype: "float32", shape: [2, 2, 2], data: Float32Array.of(0, 0.5, 1, 0.25, 0, 0, 0, 0) }))
  if (denoised !== undefined) fs.writeFileSync(path.join(runDir, "denoised.npy"), encodeNpy({ dtype: "float32", shape: [2, 2, 2], data: denoised }))
  fs.writeFileSync(path.join(runDir, "train.log"), log)
  return {
    experiment: { id: "1", workdir: root, runDir, seed: 0, hidden: [] },
    run: { status: "ok", phases: [{ name: "train", exitCode: 0, signal: null, seconds: 1, logPath: path.join(runDir, "train.log"), timedOut: false }], runDir, logTail: "" },
    hiddenDir,
    cacheDir: root,
    stateDir: root,
    incumbent: undefined
  } satisfies ScoreInput
}

const score = (input: ScoreInput) =>
  Effect.gen(function*() {
    return yield* (yield* Scorer).score(input)
  }).pipe(Effect.provide(MaeScorer))

describe("docs/metrics.md", () => {
  it("prints the example scorer exactly as the tests run it", () => {
    const example = fs.readFileSync(path.join(import.meta.dirname, "examples", "MaeScorer.ts"), "utf8")
    assert.include(blocks, example)
  })

  it.live("the example scorer computes its metric, and tells the experiment's failures from its own", () =>
    Effect.gen(function*() {
      // |0.1| + |0.5 - 0.5| + |1 - 1| + |0.25 - 0.75| + 0.2 + 0 + 0 + (1.5 clamped to 1) = 1.8, over 8 values.
      const denoised = Float32Array.of(0.1, 0.5, 1, 0.75, 0.2, 0, 0, 1.5)
      const ok = yield* score(setup(denoised, "val_mae: 0.225\n"))
      assert.strictEqual(ok.status, "ok")
      assert.closeTo(ok.metrics.val_mae!, 1.8 / 8, 1e-7)
      assert.deepStrictEqual(ok.flags, [])
      const lying = yield* score(setup(denoised, "val_mae: 0.1\n"))
      assert.deepStrictEqual(lying.flags, ["metric-mismatch"])
      const missing = yield* score(setup(undefined))
      assert.strictEqual(missing.status, "invalid")
      assert.match(missing.reason!, /denoised\.npy: no such file$/)
      // a link to the clean targets would score a perfect 0; it is refused instead
      const linked = setup(undefined)
      fs.symlinkSync(path.join(linked.hiddenDir, "clean.npy"), path.join(linked.run.runDir, "denoised.npy"))
      const refused = yield* score(linked)
      assert.strictEqual(refused.status, "invalid")
      assert.match(refused.reason!, /denoised\.npy: not a regular file \(a symbolic link\)$/)
      const input = setup(denoised)
      fs.rmSync(path.join(input.hiddenDir, "clean.npy"))
      const error = yield* Effect.flip(score(input))
      assert.strictEqual(error._tag, "ScorerError")
    }))

  // The page's PsnrGatedScorer config itself is type-checked and validated by packages/cli/test/docs.test.ts.
  it("gives the default metric spec", () => {
    assert.deepStrictEqual(PsnrGatedScorer.metricSpec(), { name: "val_psnr", direction: "max", secondary: ["val_ssim", "bicubic_psnr"] })
  })
})

describe("docs/metrics.md on PsnrGatedScorer's options", () => {
  it("gives the metric specs that metricSpec returns, and configs with them validate", () => {
    const references = { references: { shift_add: "hidden/shift_add.npy" } }
    const noReference = { targets: null, scale: 4 } as const
    assert.deepStrictEqual(PsnrGatedScorer.metricSpec(references).secondary, ["val_ssim", "bicubic_psnr", "shift_add_psnr"])
    assert.include(page, "here `[\"val_ssim\", \"bicubic_psnr\", \"shift_add_psnr\"]`")
    assert.deepStrictEqual(PsnrGatedScorer.metricSpec(noReference), { name: "nr_lr_psnr", direction: "max", secondary: ["nr_grad_ratio", "nr_bicubic_lr_psnr"] })
    assert.include(page, `metricSpec(scoring): { name: "nr_lr_psnr", direction: "max", secondary: ["nr_grad_ratio", "nr_bicubic_lr_psnr"] }`)
    const shown: Array<[PsnrGatedScorer.PsnrGatedScorerOptions, string]> = [
      [references, `const scoring = { references: { shift_add: "hidden/shift_add.npy" } }`],
      [noReference, "const scoring = { targets: null, scale: 4 }"],
      [{ verdict: "verdict.json" }, `const scoring = { verdict: "verdict.json" }`]
    ]
    for (const [scoring, line] of shown) {
      assert.include(page, line)
      const config = {
        mutable: ["train.py"],
        immutable: ["prepare.py"],
        phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["prepare.py", "predict"] },
        metric: { ...PsnrGatedScorer.metricSpec(scoring), minDelta: 0.02 },
        budget: { experimentSeconds: 300 },
        scorer: PsnrGatedScorer.layer(scoring)
      }
      const result = validateConfig(config, "docs/metrics.md")
      assert.isTrue(Result.isSuccess(result), Result.isFailure(result) ? result.failure.message : "")
    }
  })
})
