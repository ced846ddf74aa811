/**
 * The terminal's progress: plain lines and never a redraw when not a TTY (CI, pipes); on a
 * TTY the live line with its bar, redrawn in place every second, and steps/s read from
 * the tail of the train log (a FIFO or a link there is not read).
 */
import { describe, expect, it } from "@effect/vitest"
import type { JournalEntry, LoopEvent, MetricSpec } from "@autoresearch/core"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { logStepsPerSecond, terminal } from "../src/Progress.ts"

const metric = { name: "val_psnr", direction: "max", weight: 1 } as unknown as MetricSpec

const entry = (id: number, value: number): JournalEntry => ({
  id,
  parent: null,
  commit: "abc",
  status: "keep",
  metrics: { val_psnr: value },
  reported: {},
  flags: [],
  description: "d",
  hypothesis: "h",
  seconds: {},
  cost: { usd: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0 },
  fingerprint: "f",
  seed: 0,
  startedAt: "",
  finishedAt: ""
})

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "progress-"))

/** Drives `terminal` with events, `TestClock` seconds between them, and answers all it wrote. */
const drive = (tty: boolean, steps: ReadonlyArray<LoopEvent | number | (() => void)>) =>
  Effect.scoped(Effect.gen(function*() {
    const written: Array<string> = []
    const onEvent = yield* terminal((text) => Effect.sync(() => void written.push(text)), tty)
    for (const step of steps) {
      if (typeof step === "number") yield* TestClock.adjust(`${step} seconds`)
      else if (typeof step === "function") step()
      else yield* onEvent(step, metric)
    }
    return written
  }))

const events = (log: string | undefined): ReadonlyArray<LoopEvent> => [
  { _tag: "LoopStarted", experiments: 2, best: entry(1, 31.0123) },
  { _tag: "ExperimentStarted", id: 3, description: "wider", budgetSeconds: 20 },
  { _tag: "PhaseStarted", id: 3, phase: "train", ...(log === undefined ? {} : { log }) }
]

describe("terminal", () => {
  it.effect("writes plain lines only when not a TTY: no \\r, no redraw", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const log = path.join(dir, "train.log")
      fs.writeFileSync(log, "step 100  loss 0.1  lr 1e-3  8%  31.2 steps/s\n")
      const written = yield* drive(false, [
        ...events(log),
        12,
        { _tag: "PhaseFinished", id: 3, phase: "train", seconds: 20 },
        5,
        { _tag: "LoopFinished", reason: "done", best: undefined }
      ])
      expect(written).toEqual(["#3 wider\n", "#3 train finished in 20.0 s\n", "finished: done\n"])
      expect(written.join("")).not.toContain("\r")
      expect(written.join("")).not.toContain("\x1b")
    }))

  it.effect("on a TTY draws the bar in place, redrawn each second, with the log's steps/s", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const log = path.join(dir, "train.log")
      const written = yield* drive(true, [
        ...events(log),
        () => fs.writeFileSync(log, "device: cuda\nstep 100  loss 0.1  lr 1e-3  8%  28.0 steps/s\n"),
        12,
        () => fs.appendFileSync(log, "step 200  loss 0.1  lr 1e-3  9%  31.2 steps/s\n"),
        1,
        11,
        { _tag: "PhaseFinished", id: 3, phase: "train", seconds: 23.1 }
      ])
      const lines = written.filter((text) => text.startsWith("\r\x1b[2K#3 train ["))
      // Drawn when the phase started (no log yet), then once a second.
      expect(lines[0]).toBe("\r\x1b[2K#3 train [--------------------] 0s / 20s, 20s left | best val_psnr 31.0123 (#1)")
      expect(lines).toContain("\r\x1b[2K#3 train [############--------] 12s / 20s, 8s left, 28.0 steps/s | best val_psnr 31.0123 (#1)")
      expect(lines).toContain("\r\x1b[2K#3 train [#############-------] 13s / 20s, 7s left, 31.2 steps/s | best val_psnr 31.0123 (#1)")
      expect(lines.at(-1)).toBe("\r\x1b[2K#3 train [####################] 24s / 20s, over by 4s, 31.2 steps/s | best val_psnr 31.0123 (#1)")
      expect(written).toContain("\r\x1b[2K#3 train finished in 23.1 s\n")
      expect(written.at(-1)).toBe("\r\x1b[2K#3 | best val_psnr 31.0123 (#1)")
      for (const text of written) expect(text.replace(/^\r\x1b\[2K/, "").trimEnd().length).toBeLessThanOrEqual(100)
    }))

  it.effect("on a TTY without a log path, keeps the bar without a rate", () =>
    Effect.gen(function*() {
      const written = yield* drive(true, [...events(undefined), 5])
      expect(written.at(-1)).toBe("\r\x1b[2K#3 train [#####---------------] 5s / 20s, 15s left | best val_psnr 31.0123 (#1)")
    }))
})

describe("steps/s from the train log", () => {
  it("reads the tail of a regular file, its first line left out when cut", () => {
    const dir = tempDir()
    const log = path.join(dir, "train.log")
    expect(logStepsPerSecond(log)).toBeUndefined()
    fs.writeFileSync(log, "step 100  12.5 steps/s\n")
    expect(logStepsPerSecond(log)).toBe(12.5)
    // More than the 4096 bytes read: the rate near the start is not seen, the last is.
    fs.writeFileSync(log, `step 100  12.5 steps/s\n${"x".repeat(5000)}\nstep 200  14.25 steps/s\n`)
    expect(logStepsPerSecond(log)).toBe(14.25)
    fs.writeFileSync(log, `step 100  12.5 steps/s\n${"x".repeat(5000)}\n`)
    expect(logStepsPerSecond(log)).toBeUndefined()
  })

  it("does not read a FIFO, a link or a directory at the log's path", () => {
    const dir = tempDir()
    const target = path.join(dir, "elsewhere.log")
    fs.writeFileSync(target, "99 steps/s\n")
    const link = path.join(dir, "link.log")
    fs.symlinkSync(target, link)
    expect(logStepsPerSecond(link)).toBeUndefined()
    fs.mkdirSync(path.join(dir, "dir.log"))
    expect(logStepsPerSecond(path.join(dir, "dir.log"))).toBeUndefined()
    const fifo = path.join(dir, "fifo.log")
    execFileSync("mkfifo", [fifo])
    // Would block forever if opened as a file.
    expect(logStepsPerSecond(fifo)).toBeUndefined()
  })
})
