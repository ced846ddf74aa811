/**
 * Following a run on the terminal: on a TTY, one live line (experiment, phase, a bar of
 * elapsed time against the train budget, steps/s from the train log, best so far)
 * redrawn in place; otherwise one plain line per event and never a redraw. The lines
 * themselves are core's `Progress`, which a script of your own can print too.
 */
import { type LoopEvent, type MetricSpec, Progress, readRegularFile } from "@autoresearch/core"
import { Clock, Effect, Schedule } from "effect"

export const { eventLine, initialProgress, liveLine, nextProgress, stepsPerSecond } = Progress
export type ProgressState = Progress.ProgressState

/** Bytes read from the end of a train log, each redraw, for its latest steps/s. */
const LOG_TAIL_BYTES = 4096

/**
 * The latest steps/s in the tail of a phase's log, or undefined. The log is in a run
 * directory the experiment can write: anything but a regular file there is not read.
 */
export const logStepsPerSecond = (log: string): number | undefined => {
  const read = readRegularFile(log, LOG_TAIL_BYTES, { fromEnd: true })
  return read._tag === "Text" ? stepsPerSecond(read.text, { cut: read.truncated }) : undefined
}

/**
 * An `onEvent` for `Research.run` that writes to the terminal, and, on a TTY, a redraw of
 * the live line every second while the scope lives (reading the train log's steps/s).
 */
export const terminal = Effect.fnUntraced(function*(write: (text: string) => Effect.Effect<void>, tty: boolean) {
  let state = initialProgress
  let metric: Pick<MetricSpec, "name" | "direction"> | undefined
  const redraw = Effect.fnUntraced(function*() {
    if (!tty || metric === undefined) return
    if (state.phase === "train" && state.log !== undefined) {
      state = Progress.withStepsPerSecond(state, logStepsPerSecond(state.log))
    }
    yield* write(`\r\x1b[2K${liveLine(state, yield* Clock.currentTimeMillis, metric)}`)
  })
  if (tty) yield* Effect.forkScoped(Effect.repeat(Effect.suspend(redraw), Schedule.spaced("1 second")))
  return (event: LoopEvent, eventMetric: MetricSpec) =>
    Effect.gen(function*() {
      metric = eventMetric
      state = nextProgress(state, event, yield* Clock.currentTimeMillis, eventMetric)
      const line = eventLine(event, eventMetric)
      if (line !== undefined) yield* write(`${tty ? "\r\x1b[2K" : ""}${line}\n`)
      yield* redraw()
    })
})
