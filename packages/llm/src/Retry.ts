/**
 * What to do when a model API call fails. A pure classification says whether the fault
 * passes by itself (429, 5xx, 529 overloaded, a timeout, a dropped connection, a body that
 * is not JSON) or needs a person (400, 401, 403, 404); `retrySchedule` says when to try
 * again: capped exponential backoff with jitter, or longer when the server's `retry-after`
 * asks for it, and only for transient faults; `withRetries` runs a call under it with
 * `Effect.retry`, each attempt with its own time limit.
 */
import { Duration, Effect, Random, Schedule, Schema } from "effect"

export class ApiFault extends Schema.TaggedError<ApiFault>()("ApiFault", {
  /** What went wrong, in the API's own words where it gave some. */
  reason: Schema.String,
  /** HTTP status, when there was a response. */
  status: Schema.optional(Schema.Number),
  /** Whether trying again later can help. */
  transient: Schema.Boolean,
  /** How long the server asked us to wait, from `retry-after-ms` or `retry-after`. */
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message() {
    return this.status === undefined ? this.reason : `${this.status} ${this.reason}`
  }
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  /** First backoff; it doubles with each retry. */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** The longest `retry-after` we agree to wait. */
  readonly maxRetryAfterMs: number
  /** Time limit of one attempt. */
  readonly timeoutMs: number
}

export const defaultRetryPolicy: RetryPolicy = {
  maxRetries: 6,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  maxRetryAfterMs: 300_000,
  timeoutMs: 300_000
}

interface HeaderSource {
  readonly get?: (name: string) => string | null
}

/** Milliseconds from `retry-after-ms`, or `retry-after` as seconds or an HTTP date. */
export const retryAfterMs = (headers: HeaderSource | undefined, now: number): number | undefined => {
  if (headers === undefined || typeof headers.get !== "function") return undefined
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "")
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers.get("retry-after")
  if (value === null || value.trim() === "") return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const transientStatus = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500

/** The message the API put in its error body, else the SDK's. */
const apiMessage = (error: Record<string, unknown>): string => {
  const body = error.error as Record<string, unknown> | undefined
  const inner = body?.error as Record<string, unknown> | undefined
  const said = inner?.message ?? body?.message
  if (typeof said === "string" && said !== "") return said
  return typeof error.message === "string" ? error.message : String(error)
}

/**
 * Classifies whatever an SDK call threw. Both SDKs' errors carry `status` and `headers`;
 * connection errors and timeouts have no status; a body that is not JSON is a SyntaxError.
 */
export const classify = (error: unknown, now = Date.now()): ApiFault => {
  if (error instanceof ApiFault) return error
  if (typeof error !== "object" || error === null) return new ApiFault({ reason: String(error), transient: false })
  const fields = error as Record<string, unknown>
  const name = typeof fields.name === "string" ? fields.name : ""
  if (typeof fields.status === "number") {
    const status = fields.status
    const after = retryAfterMs(fields.headers as HeaderSource | undefined, now)
    return new ApiFault({
      reason: apiMessage(fields),
      status,
      transient: transientStatus(status),
      ...(after === undefined ? {} : { retryAfterMs: after })
    })
  }
  if (/Timeout/i.test(name)) return new ApiFault({ reason: "the request timed out", transient: true })
  if (/Connection/i.test(name)) {
    return new ApiFault({ reason: `connection failed: ${apiMessage(fields)}`, transient: true })
  }
  if (error instanceof SyntaxError) {
    return new ApiFault({ reason: `the response is not valid JSON: ${error.message}`, transient: true })
  }
  return new ApiFault({ reason: apiMessage(fields), transient: false })
}

/**
 * When to try again after a fault, as a Schedule fed the faults: exponential backoff from
 * `baseDelayMs`, capped at `maxDelayMs`, with jitter that only shortens it (between half
 * and all of the capped backoff, so the cap holds); a `retry-after` longer than that is
 * waited instead, up to `maxRetryAfterMs`. It stops at a fault that is not transient, and
 * after `maxRetries` retries.
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<Duration.Duration, ApiFault> =>
  Schedule.min([
    Schedule.exponential(Duration.millis(policy.baseDelayMs)),
    Schedule.spaced(Duration.millis(policy.maxDelayMs))
  ]).pipe(
    // Not Schedule.jittered: it scales by 0.8 to 1.2, which would overshoot the cap.
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Random.next, (random) => Duration.times(duration, 0.5 + random / 2))
    ),
    Schedule.setInputType<ApiFault>(),
    Schedule.modifyDelay(({ duration, input }) =>
      Effect.succeed(
        input.retryAfterMs === undefined
          ? duration
          : Duration.max(duration, Duration.millis(Math.min(input.retryAfterMs, policy.maxRetryAfterMs)))
      )
    ),
    Schedule.while(({ input }) => input.transient),
    Schedule.upTo({ times: policy.maxRetries })
  )

/**
 * Runs `call` until it succeeds, a fault is not transient, or the retries are spent;
 * each attempt has `policy.timeoutMs`, and a timeout is a transient fault. The last fault
 * is returned with how many attempts were made.
 */
export const withRetries = <A, R>(
  call: Effect.Effect<A, ApiFault, R>,
  policy: RetryPolicy,
  label: string
): Effect.Effect<A, { readonly fault: ApiFault; readonly attempts: number }, R> =>
  Effect.suspend(() => {
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      return Effect.timeoutOrElse(call, {
        duration: Duration.millis(policy.timeoutMs),
        orElse: () =>
          Effect.fail(new ApiFault({ reason: `no answer within ${policy.timeoutMs / 1000} s`, transient: true }))
      })
    })
    const schedule = retrySchedule(policy).pipe(
      Schedule.tap(({ attempt, duration, input }) =>
        Effect.logWarning(
          `${label}: ${input.message}; retry ${attempt}/${policy.maxRetries} in ${Math.round(Duration.toMillis(duration))} ms`
        )
      )
    )
    return attempt.pipe(Effect.retry(schedule), Effect.mapError((fault) => ({ fault, attempts })))
  })
