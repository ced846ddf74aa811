/**
 * `evaluate` spread over worker threads, one contiguous share of the images each, the
 * calling thread taking a share too. Below about a second of work, or with one core, it
 * runs on the calling thread alone: a worker takes ~0.15 s to start.
 */
import * as os from "node:os"
import { Worker } from "node:worker_threads"
import { evaluateRange, type EvaluationOptions, type PairStats, summarise, type Evaluation } from "./Evaluation.ts"
import { assertSameShape, type Stack } from "./Image.ts"
import type { Job } from "./EvaluationWorker.ts"

export interface ParallelOptions extends EvaluationOptions {
  /** Threads in all, the calling one included; by default one per core (at most 8) for big stacks. */
  readonly threads?: number
}

/**
 * Pixels below which threads do not pay for their start-up (~0.15 s each): about a
 * second of work, at ~0.2 us per pixel with the sharpness diagnostics, ~0.06 without
 * (metrics-bench: 45-63 ms per 512x512 frame at x4, 3.7-6.1 ms per 256x256 image without).
 */
const minimumPixels = { diagnostics: 4_000_000, psnrSsimOnly: 16_000_000 }

export const defaultThreads = (stack: Stack, diagnostics = true): number =>
  stack.count * stack.height * stack.width < minimumPixels[diagnostics ? "diagnostics" : "psnrSsimOnly"]
    ? 1
    : Math.min(os.availableParallelism(), 8, stack.count)

// Under the TypeScript sources (tests, scripts) the worker is the .ts file; once built, the .js.
const workerUrl = new URL(import.meta.url.endsWith(".ts") ? "./EvaluationWorker.ts" : "./EvaluationWorker.js", import.meta.url)

const runWorker = (job: Job): Promise<Array<PairStats>> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(workerUrl)
    worker.once("message", (reply: { ok: boolean; stats?: Array<PairStats>; error?: string }) => {
      void worker.terminate()
      if (reply.ok) resolve(reply.stats!)
      else reject(new Error(reply.error))
    })
    worker.once("error", (error) => {
      void worker.terminate()
      reject(error)
    })
    worker.postMessage(job, [job.prediction.buffer, job.target.buffer] as Array<ArrayBuffer>)
  })

export const evaluateParallel = async (prediction: Stack, target: Stack, options: ParallelOptions = {}): Promise<Evaluation> => {
  assertSameShape(target, prediction)
  const threads = Math.max(1, Math.min(options.threads ?? defaultThreads(prediction, options.diagnostics !== false), prediction.count))
  const { threads: _, ...evaluation } = options
  if (threads === 1) return summarise(evaluateRange(prediction, target, 0, prediction.count, evaluation))
  const size = prediction.height * prediction.width
  const bounds = Array.from({ length: threads + 1 }, (_, i) => Math.round((i * prediction.count) / threads))
  const jobs = bounds.slice(1, -1).map((from, i) => {
    const to = bounds[i + 2]!
    return runWorker({
      count: to - from,
      height: prediction.height,
      width: prediction.width,
      prediction: prediction.data.slice(from * size, to * size),
      target: target.data.slice(from * size, to * size),
      options: evaluation
    })
  })
  let own: Array<PairStats>
  try {
    own = evaluateRange(prediction, target, 0, bounds[1]!, evaluation)
  } catch (error) {
    await Promise.allSettled(jobs)
    throw error
  }
  const rest = await Promise.all(jobs)
  return summarise([...own, ...rest.flat()])
}
