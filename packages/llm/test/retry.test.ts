import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Logger, Random } from "effect"
import { TestClock } from "effect/testing"
import { ApiFault, type RetryPolicy, withRetries } from "../src/Retry.ts"

const policy: RetryPolicy = {
  maxRetries: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 4_000,
  maxRetryAfterMs: 30_000,
  timeoutMs: 600_000
}

const overloaded = (n: number) => new ApiFault({ reason: `overloaded ${n}`, status: 529, transient: true })
const badKey = new ApiFault({ reason: "invalid x-api-key", status: 401, transient: false })
const slowDown = (retryAfterMs: number) =>
  new ApiFault({ reason: "slow down", status: 429, transient: true, retryAfterMs })

/**
 * Runs `withRetries` on a call that fails with each of `faults` in turn and then succeeds,
 * under the test clock and with `Random.next` fixed at `random`: the jitter factor is
 * 0.5 + random / 2. Gives the outcome, the gaps between the calls in milliseconds, and
 * the warnings logged.
 */
const run = (faults: ReadonlyArray<ApiFault>, options: { random: number; policy?: Partial<RetryPolicy> }) =>
  Effect.gen(function*() {
    const times: Array<number> = []
    const logs: Array<string> = []
    const collect = Logger.make((options) => logs.push([options.message].flat().join(" ")))
    const call = Effect.gen(function*() {
      times.push(yield* Clock.currentTimeMillis)
      const fault = faults[times.length - 1]
      return fault === undefined ? "answer" : yield* Effect.fail(fault)
    })
    const fiber = yield* withRetries(call, { ...policy, ...options.policy }, "test").pipe(
      Effect.result,
      Effect.provideService(Random.Random, { nextDoubleUnsafe: () => options.random, nextIntUnsafe: () => 0 }),
      Effect.provideService(Logger.CurrentLoggers, new Set([collect])),
      Effect.forkChild
    )
    yield* TestClock.adjust("1 hour")
    const result = yield* Fiber.join(fiber)
    return { result, gaps: times.slice(1).map((time, i) => time - times[i]!), logs }
  })

describe("withRetries", () => {
  it.effect("does not retry a fault that is not transient", () =>
    Effect.gen(function*() {
      const { result, gaps } = yield* run([badKey], { random: 0 })
      assert.deepStrictEqual(gaps, [])
      assert.isTrue(result._tag === "Failure" && result.failure.fault === badKey && result.failure.attempts === 1)

      const after = yield* run([overloaded(1), badKey], { random: 0 })
      assert.deepStrictEqual(after.gaps, [500])
      assert.isTrue(after.result._tag === "Failure" && after.result.failure.fault === badKey)
      assert.strictEqual(after.result._tag === "Failure" && after.result.failure.attempts, 2)
    }))

  it.effect("retries a transient fault with exponential backoff up to the limit, then fails with the last fault", () =>
    Effect.gen(function*() {
      const faults = [1, 2, 3, 4, 5].map(overloaded)
      const { gaps, logs, result } = yield* run(faults, { random: 0 })
      assert.deepStrictEqual(gaps, [500, 1_000, 2_000])
      assert.deepStrictEqual(logs, [
        "test: 529 overloaded 1; retry 1/3 in 500 ms",
        "test: 529 overloaded 2; retry 2/3 in 1000 ms",
        "test: 529 overloaded 3; retry 3/3 in 2000 ms"
      ])
      assert.isTrue(result._tag === "Failure")
      if (result._tag === "Failure") {
        assert.strictEqual(result.failure.fault, faults[3])
        assert.strictEqual(result.failure.attempts, 4)
      }

      const recovered = yield* run(faults.slice(0, 2), { random: 0 })
      assert.isTrue(recovered.result._tag === "Success" && recovered.result.success === "answer")
      assert.deepStrictEqual(recovered.gaps, [500, 1_000])
    }))

  it.effect("waits the retry-after when it is longer than the backoff, up to maxRetryAfterMs", () =>
    Effect.gen(function*() {
      const longer = yield* run([slowDown(10_000), slowDown(0), slowDown(100_000)], { random: 0 })
      // 10 s asked; 0 s asked (the backoff, 1 s, is longer); 100 s asked, 30 s allowed.
      assert.deepStrictEqual(longer.gaps, [10_000, 1_000, 30_000])
      assert.isTrue(longer.result._tag === "Success")
    }))

  it.effect("caps the backoff at maxDelayMs, jitter included", () =>
    Effect.gen(function*() {
      const faults = [1, 2, 3, 4, 5, 6].map(overloaded)
      const half = yield* run(faults, { random: 0.5, policy: { maxRetries: 6 } })
      assert.deepStrictEqual(half.gaps, [750, 1_500, 3_000, 3_000, 3_000, 3_000])
      const most = yield* run(faults, { random: 0.999_999, policy: { maxRetries: 6 } })
      assert.strictEqual(most.gaps.length, 6)
      assert.isTrue(most.gaps.every((gap) => gap <= 4_000))
      assert.isTrue(most.gaps.slice(2).every((gap) => gap > 3_990))
    }))
})
