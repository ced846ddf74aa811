import { type Flag, reportedByTrain, type Score, Scorer, ScorerError } from "@autoresearch/core"
import { Image, ImageFile } from "@autoresearch/metrics"
import { Effect, Layer } from "effect"
import * as path from "node:path"

/** Mean absolute error of a denoiser's output against the clean images: lower is better. */
export const MaeScorer = Layer.succeed(Scorer, Scorer.of({
  name: "mae",
  score: Effect.fnUntraced(function*(input): Effect.fn.Return<Score, ScorerError> {
    // The experiment wrote the log and the predictions: read them as it left them, never through a link or from a FIFO.
    const reported = reportedByTrain(input.run)
    // The targets are the harness's: if they are unreadable, the scorer fails.
    const clean = yield* ImageFile.readImage(path.join(input.hiddenDir, "clean.npy")).pipe(
      Effect.mapError((error) => new ScorerError({ scorer: "mae", reason: error.message }))
    )
    // The predictions are the experiment's: if they are bad, the experiment is invalid.
    const output = yield* Effect.result(ImageFile.readUntrustedImage(path.join(input.run.runDir, "denoised.npy")))
    if (output._tag === "Failure") {
      return { status: "invalid", reason: output.failure.message, metrics: {}, reported, flags: [] }
    }
    const prediction = Image.clamp(output.success.stack)
    if (!Image.sameShape(prediction, clean.stack)) {
      return { status: "invalid", reason: "denoised.npy: wrong shape", metrics: {}, reported, flags: [] }
    }
    let sum = 0
    for (let i = 0; i < prediction.data.length; i++) sum += Math.abs(prediction.data[i]! - clean.stack.data[i]!)
    const mae = sum / prediction.data.length
    const flags: Array<Flag> = reported.val_mae !== undefined && Math.abs(reported.val_mae - mae) > 1e-4 ? ["metric-mismatch"] : []
    return { status: "ok", metrics: { val_mae: mae }, reported, flags }
  })
}))
