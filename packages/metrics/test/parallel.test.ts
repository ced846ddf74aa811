/**
 * Worker threads: the same numbers as on the calling thread, images kept in order, and
 * a worker's failure reported rather than lost.
 */
import { assert, describe, it } from "@effect/vitest"
import { evaluate } from "../src/Evaluation.ts"
import { stack } from "../src/Image.ts"
import { defaultThreads, evaluateParallel } from "../src/Parallel.ts"

const noisyStack = (count: number, size: number) => {
  const target = stack(count, size, size)
  const prediction = stack(count, size, size)
  let seed = 7
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647)
  for (let i = 0; i < target.data.length; i++) {
    const image = Math.floor(i / (size * size))
    target.data[i] = random()
    prediction.data[i] = Math.min(1, Math.max(0, target.data[i]! + (random() - 0.5) * 0.02 * (image + 1)))
  }
  return { prediction, target }
}

describe("evaluateParallel", () => {
  it("gives the calling thread's numbers, image by image, with three threads", async () => {
    const { prediction, target } = noisyStack(7, 24)
    const options = { shave: 2, scale: 2 }
    const inline = evaluate(prediction, target, options)
    const threaded = await evaluateParallel(prediction, target, { ...options, threads: 3 })
    assert.deepStrictEqual(threaded, inline)
    // More noise, lower PSNR: the order of images survived the split.
    for (let i = 1; i < 7; i++) assert.isBelow(threaded.psnrEach[i]!, threaded.psnrEach[i - 1]!)
  })

  it("uses one thread for small stacks", () => {
    assert.strictEqual(defaultThreads(stack(10, 64, 64)), 1)
  })

  it("reports a worker's failure", async () => {
    const { prediction, target } = noisyStack(4, 8)
    const error = await evaluateParallel(prediction, target, { threads: 2 }).then(() => undefined, (e: Error) => e)
    assert.include(error?.message, "SSIM with a 11x11 window needs images of at least 11x11, got 8x8")
  })
})
