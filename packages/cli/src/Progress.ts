/**
 * Following a run on the terminal: on a TTY, one live line (experiment, phase,
 * elapsed/budget, best so far) redrawn in place; otherwise one plain line per event.
 * The lines themselves are core's `Progress`, which a script of your own can print too.
 */
import { type LoopEvent, type MetricSpec, Progress } from "@autoresearch/core"
import { Effect, Schedule } from "effect"

export const { eventLine, initialProgress, liveLine, nextProgress } = Progress
export type ProgressState = Progress.ProgressState

/**
 * An `onEvent` for `Research.run` that writes to the terminal, and, on a TTY, a redraw of
 * the live line every second while the scope lives.
 */
export const terminal = Effect.fnUntraced(function*(write: (text: string) => Effect.Effect<void>, tty: boolean) {
  let state = initialProgress
  let metric: Pick<MetricSpec, "name" | "direction"> | undefined
  const redraw = () => (tty && metric !== undefined ? write(`\r\x1b[2K${liveLine(state, Date.now(), metric)}`) : Effect.void)
  if (tty) yield* Effect.forkScoped(Effect.repeat(Effect.suspend(redraw), Schedule.spaced("1 second")))
  return (event: LoopEvent, eventMetric: MetricSpec) =>
    Effect.gen(function*() {
      metric = eventMetric
      state = nextProgress(state, event, Date.now(), eventMetric)
      const line = eventLine(event, eventMetric)
      if (line !== undefined) yield* write(`${tty ? "\r\x1b[2K" : ""}${line}\n`)
      yield* redraw()
    })
})
