/**
 * Running an effect from a plain script so that Ctrl-C stops it cleanly. `Effect.runPromise`
 * alone leaves SIGINT to Node, which exits at once: the running phase is orphaned and the
 * run's lock stays. `runPromise` here interrupts the effect on SIGINT, SIGTERM and SIGHUP
 * instead, so its finalizers run (the phase killed, the lock released), then rejects.
 */
import { Cause, Effect, Exit, Schema } from "effect"

/** The signals that stop a run: Ctrl-C, `kill`, and a closed terminal or SSH session. */
export const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const
export type StopSignal = (typeof stopSignals)[number]

export class Interrupted extends Schema.TaggedError<Interrupted>()("Interrupted", {
  signal: Schema.optional(Schema.Literals(stopSignals))
}) {
  override get message() {
    return `interrupted${this.signal === undefined ? "" : ` by ${this.signal}`}; run it again to resume`
  }
}

/**
 * Runs `effect` to a Promise. A stop signal interrupts it; the Promise then rejects with
 * `Interrupted` once its finalizers have run. A failure rejects with the error itself.
 * The signal handlers are in place only while the effect runs.
 */
export const runPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  new Promise((resolve, reject) => {
    const fiber = Effect.runFork(effect)
    let received: StopSignal | undefined
    const handlers = stopSignals.map((signal) => {
      const stop = () => {
        received ??= signal
        fiber.interruptUnsafe(fiber.id)
      }
      process.on(signal, stop)
      return [signal, stop] as const
    })
    fiber.addObserver((exit) => {
      for (const [signal, stop] of handlers) process.removeListener(signal, stop)
      if (Exit.isSuccess(exit)) resolve(exit.value)
      else if (Cause.hasInterruptsOnly(exit.cause)) reject(new Interrupted(received === undefined ? {} : { signal: received }))
      else reject(Cause.squash(exit.cause))
    })
  })
