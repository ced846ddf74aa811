/**
 * The worker-thread side of `Parallel`: evaluates the image pairs it is sent and posts
 * back their per-image statistics.
 */
import { parentPort } from "node:worker_threads"
import { evaluateRange, type EvaluationOptions } from "./Evaluation.ts"
import type { Pixels } from "./Image.ts"

export interface Job {
  readonly count: number
  readonly height: number
  readonly width: number
  readonly prediction: Pixels
  readonly target: Pixels
  readonly options: EvaluationOptions
}

parentPort?.on("message", (job: Job) => {
  try {
    const shape = { count: job.count, height: job.height, width: job.width }
    const stats = evaluateRange({ ...shape, data: job.prediction }, { ...shape, data: job.target }, 0, job.count, job.options)
    parentPort!.postMessage({ ok: true, stats })
  } catch (error) {
    parentPort!.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) })
  }
})
