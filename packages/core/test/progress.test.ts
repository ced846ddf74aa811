/**
 * The progress lines a script prints with `Progress.print`, the live line of a terminal,
 * the flags as types, and the loop's errors as a union of reasons with one message each.
 */
import { describe, expect, it } from "@effect/vitest"
import { Schema } from "effect"
import { belowGate, customFlag, type Flag, flagKind, isFlag, isIntegrityFlag, JournalFlag } from "../src/Flags.ts"
import { parseJournal } from "../src/Journal.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"
import { describe as describeReason, LoopError, type LoopErrorReason } from "../src/LoopError.ts"
import {
  bar,
  eventLine,
  formatMetric,
  formatRate,
  formatSeconds,
  initialProgress,
  liveLine,
  nextProgress,
  type ProgressState,
  stepsPerSecond,
  withStepsPerSecond
} from "../src/Progress.ts"

const metric = { name: "val_mse", direction: "min" as const }
const entry = (id: number, status: JournalEntry["status"], value?: number): JournalEntry => ({
  id,
  parent: null,
  commit: "abc",
  status,
  metrics: value === undefined ? {} : { val_mse: value },
  reported: {},
  flags: [],
  description: "d",
  hypothesis: "h",
  seconds: {},
  cost: { usd: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0 },
  fingerprint: "f",
  seed: 0,
  startedAt: "",
  finishedAt: "",
  ...(status === "crash" ? { reason: "Traceback: boom" } : {})
})
const verdict = (reason: string) => ({ keep: true, status: "keep" as const, reason, flags: [], metrics: {} })

describe("eventLine", () => {
  it.each([
    [{ _tag: "Repaired", what: "removed a stale lock" }, "repaired: removed a stale lock"],
    [{ _tag: "Warned", what: "uncommitted changes" }, "warning: uncommitted changes"],
    [{ _tag: "SetAside", what: "refs under previous/x" }, "--fresh: set aside the earlier run: refs under previous/x"],
    [{ _tag: "Prepared", fingerprint: "ab12", reused: true }, "data cache ab12 (reused)"],
    [{ _tag: "ExperimentStarted", id: 3, description: "wider", budgetSeconds: 20 }, "#3 wider"],
    [{ _tag: "PhaseFinished", id: 3, phase: "train", seconds: 1.25 }, "#3 train finished in 1.3 s"],
    [{ _tag: "PhaseFinished", id: -1, phase: "prepare", seconds: 2 }, "prepare finished in 2.0 s"],
    [{ _tag: "Decided", id: 1, decision: verdict("baseline"), entry: entry(1, "keep", 0.25) }, "#1 keep val_mse=0.2500: baseline"],
    [{ _tag: "Decided", id: 2, decision: verdict("x"), entry: entry(2, "crash") }, "#2 crash: Traceback: boom"],
    [{ _tag: "NoiseRun", run: 2, of: 4, seed: 7, value: undefined }, "noise run 2/4 (seed 7): failed"],
    [{ _tag: "LoopFinished", reason: "reached max experiments (3)", best: undefined }, "finished: reached max experiments (3)"],
    [{ _tag: "LoopStarted", experiments: 0, best: undefined }, undefined],
    [{ _tag: "PhaseStarted", id: 1, phase: "train" }, undefined],
    [{ _tag: "PhaseStarted", id: 1, phase: "train", log: "/r/1/train.log" }, undefined]
  ] as const)("%j", (event, line) => {
    expect(eventLine(event as never, metric)).toBe(line)
  })
})

describe("the live line", () => {
  it("follows the experiment and phase, and starts from a resumed run's best", () => {
    let state = nextProgress(initialProgress, { _tag: "LoopStarted", experiments: 3, best: entry(1, "keep", 0.5) }, 0, metric)
    expect(liveLine(state, 0, metric)).toBe("| best val_mse 0.5000 (#1)")
    state = nextProgress(state, { _tag: "ExperimentStarted", id: 3, description: "d", budgetSeconds: 20 }, 0, metric)
    state = nextProgress(state, { _tag: "PhaseStarted", id: 3, phase: "train", log: "/r/3/train.log" }, 1_000, metric)
    expect(state.log).toBe("/r/3/train.log")
    expect(liveLine(state, 13_500, metric)).toBe("#3 train [############--------] 12s / 20s, 8s left | best val_mse 0.5000 (#1)")
    state = withStepsPerSecond(state, 31.2)
    expect(liveLine(state, 13_500, metric)).toBe(
      "#3 train [############--------] 12s / 20s, 8s left, 31.2 steps/s | best val_mse 0.5000 (#1)"
    )
    // No new rate in the log keeps the one known; the next phase starts without one.
    expect(withStepsPerSecond(state, undefined).stepsPerSecond).toBe(31.2)
    state = nextProgress(state, { _tag: "PhaseFinished", id: 3, phase: "train", seconds: 20 }, 21_000, metric)
    expect(state.stepsPerSecond).toBeUndefined()
    expect(state.log).toBeUndefined()
    expect(withStepsPerSecond(state, 9).stepsPerSecond).toBeUndefined()
    state = nextProgress(state, { _tag: "PhaseStarted", id: 3, phase: "predict" }, 21_000, metric)
    expect(liveLine(state, 24_900, metric)).toBe("#3 predict 3s | best val_mse 0.5000 (#1)")
    state = nextProgress(state, { _tag: "Decided", id: 3, decision: verdict("b"), entry: entry(3, "keep", 0.25) }, 14_000, metric)
    expect(state.best).toEqual({ id: 3, value: 0.25 })
    // A worse keep (the baseline's direction aside) does not replace the best.
    state = nextProgress(state, { _tag: "Decided", id: 4, decision: verdict("b"), entry: entry(4, "keep", 0.3) }, 14_000, metric)
    expect(state.best).toEqual({ id: 3, value: 0.25 })
  })

  it("formats metrics with 4 decimals, or e-notation far from 1", () => {
    expect(formatMetric(undefined)).toBe("-")
    expect(formatMetric(0.25)).toBe("0.2500")
    expect(formatMetric(12345)).toBe("1.235e+4")
    expect(formatMetric(0.0001)).toBe("1.000e-4")
    expect(formatMetric(0)).toBe("0.0000")
  })
})

describe("the live line's bar", () => {
  const psnr = { name: "val_psnr" }
  const at = (phase: string, budgetSeconds: number, extra: Partial<ProgressState> = {}): ProgressState => ({
    ...initialProgress,
    id: 3,
    phase,
    phaseStartedMs: 0,
    budgetSeconds,
    best: { id: 1, value: 31.0123 },
    ...extra
  })
  it.each([
    ["the start", at("train", 20), 0, "#3 train [--------------------] 0s / 20s, 20s left | best val_psnr 31.0123 (#1)"],
    ["half way", at("train", 20), 10_999, "#3 train [##########----------] 10s / 20s, 10s left | best val_psnr 31.0123 (#1)"],
    ["the budget", at("train", 20), 20_000, "#3 train [####################] 20s / 20s, 0s left | best val_psnr 31.0123 (#1)"],
    ["the grace past it", at("train", 20), 23_400, "#3 train [####################] 23s / 20s, over by 3s | best val_psnr 31.0123 (#1)"],
    [
      "steps/s",
      at("train", 20, { stepsPerSecond: 31.2 }),
      12_000,
      "#3 train [############--------] 12s / 20s, 8s left, 31.2 steps/s | best val_psnr 31.0123 (#1)"
    ],
    [
      "minutes, and a fast rate",
      at("train", 600, { stepsPerSecond: 2143.7 }),
      125_000,
      // 101 columns with 20 cells: one goes
      "#3 train [####---------------] 2m05s / 10m00s, 7m55s left, 2144 steps/s | best val_psnr 31.0123 (#1)"
    ],
    ["hours", at("train", 7200), 3_725_000, "#3 train [##########----------] 1h02m / 2h00m, 57m55s left | best val_psnr 31.0123 (#1)"],
    ["a clock that went back", at("train", 20), -5_000, "#3 train [--------------------] 0s / 20s, 20s left | best val_psnr 31.0123 (#1)"],
    ["no budget known", at("train", 0), 5_000, "#3 train 5s | best val_psnr 31.0123 (#1)"],
    ["another phase", at("score", 20), 5_000, "#3 score 5s | best val_psnr 31.0123 (#1)"],
    ["prepare, before any experiment", at("prepare", 0, { id: undefined, best: undefined }), 0, "#- prepare 0s | no best yet"],
    ["between phases", at("train", 20, { phase: undefined }), 0, "#3 | best val_psnr 31.0123 (#1)"]
  ] as const)("%s", (_, state, nowMs, line) => {
    expect(liveLine(state, nowMs, psnr)).toBe(line)
    expect(line.length).toBeLessThanOrEqual(100)
  })

  it("fits 100 columns: fewer bar cells, then no bar, then a cut end", () => {
    const long = at("train", 86_400, { id: 12345, stepsPerSecond: 12345.6, best: { id: 12345, value: 1e-7 } })
    const shrunk = liveLine(long, 43_200_000, { name: "psnr" })
    expect(shrunk).toBe("#12345 train [######-----] 12h00m / 24h00m, 12h00m left, 12346 steps/s | best psnr 1.000e-7 (#12345)")
    expect(shrunk.length).toBe(100)
    // Under 8 cells, no bar.
    const noBar = liveLine(long, 43_200_000, { name: "val_psnr_y" })
    expect(noBar).toBe("#12345 train 12h00m / 24h00m, 12h00m left, 12346 steps/s | best val_psnr_y 1.000e-7 (#12345)")
    const cut = liveLine(long, 43_200_000, { name: "a_metric_with_a_name_much_too_long_for_any_terminal_line_at_all" })
    expect(cut.length).toBe(100)
    expect(cut.endsWith("~")).toBe(true)
    expect(liveLine(at("train", 20), 10_000, psnr, 40)).toBe("#3 train 10s / 20s, 10s left | best val~")
    for (const width of [60, 80, 100, 120]) {
      expect(liveLine(long, 1_000, { name: "val_psnr" }, width).length).toBeLessThanOrEqual(width)
    }
  })

  it.each([
    [0, "0s"],
    [59.9, "59s"],
    [99, "99s"],
    [100, "1m40s"],
    [3599, "59m59s"],
    [3600, "1h00m"],
    [-3, "0s"]
  ])("formatSeconds(%d) is %s", (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text)
  })

  it("draws bars and rates", () => {
    expect(bar(0.5, 10)).toBe("[#####-----]")
    expect(bar(2, 4)).toBe("[####]")
    expect(bar(-1, 4)).toBe("[----]")
    expect(bar(Number.NaN, 4)).toBe("[----]")
    expect(formatRate(0.04)).toBe("0.0 steps/s")
    expect(formatRate(99.94)).toBe("99.9 steps/s")
    expect(formatRate(100)).toBe("100 steps/s")
  })
})

describe("steps/s from a log's tail", () => {
  it.each([
    ["nothing", "", undefined],
    ["no rate", "device: cuda, torch 2.4\nstep 100  loss 0.01000  lr 1.00e-03  8%\n", undefined],
    ["the examples' periodic line", "step 100  loss 0.01234  lr 1.00e-03  8%  31.2 steps/s\n", 31.2],
    ["the latest of several", "step 100  loss 0.1  12.5 steps/s\nstep 200  loss 0.1  14.0 steps/s\n", 14],
    ["name first", "steps/s 12.3\n", 12.3],
    ["name first, with a colon", "epoch 3 steps/s: 7\n", 7],
    ["steps_per_second", "steps_per_second: 12.3\n", 12.3],
    ["steps_per_second in JSON", `{"step": 400, "steps_per_second": 55.5}\n`, 55.5],
    ["steps_per_second=", "steps_per_second=8.25 loss=0.1\n", 8.25],
    ["a final summary after the periodic lines", "step 100  9.0 steps/s\nsteps_per_second: 10.50\n", 10.5],
    ["tqdm", " 45%|####5     | 450/1000 [00:36<00:44, 12.3it/s]", 12.3],
    ["tqdm's updates, the last unended", "\r 10%|#  | 100/1000 [00:10<01:30, 9.8it/s]\r 20%|## | 200/1000 [00:20<01:20, 10.1it/s]", 10.1],
    ["tqdm below 1 it/s", "  2%|2  | 2/100 [00:08<06:32, 4.00s/it]", 0.25],
    ["e-notation", "1.5e3 steps/s\n", 1500],
    ["step/s", "rate 3 step/s\n", 3],
    ["steps/sec", "rate 3.5 steps/sec\n", 3.5],
    ["a name-first number not yet ended", "step 100  12.0 steps/s\nsteps/s 1", 12],
    ["a name-first number not yet ended, alone", "steps_per_second: 4", undefined],
    ["a name-first number ended", "steps_per_second: 4\n", 4],
    ["not a word's end", "overstep 3 bisteps/s\n", undefined],
    ["a percentage is not a rate", "step 100  8%\n", undefined]
  ] as const)("%s", (_, text, rate) => {
    expect(stepsPerSecond(text)).toBe(rate)
  })

  it("leaves out a cut first line", () => {
    // The tail began inside `123.4 steps/s`: `3.4` is not the rate.
    expect(stepsPerSecond("3.4 steps/s\n", { cut: true })).toBeUndefined()
    expect(stepsPerSecond("3.4 steps/s", { cut: true })).toBeUndefined()
    expect(stepsPerSecond("3.4 steps/s\nstep 200  loss 0.1\n", { cut: true })).toBeUndefined()
    expect(stepsPerSecond("3.4 steps/s\nstep 200  120.5 steps/s\n", { cut: true })).toBe(120.5)
    expect(stepsPerSecond("_per_second: 5\rsteps/s 6\n", { cut: true })).toBe(6)
  })
})

describe("flags as types", () => {
  it("knows the integrity, cap, notice and below-<gate> flags", () => {
    for (const flag of ["immutable-modified", "metric-mismatch", "non-finite", "budget-exceeded"]) expect(isIntegrityFlag(flag)).toBe(true)
    for (const flag of ["memory-cap", "pids-cap", "disk-full", "vram-exceeded", "ssim-drop", "below-bicubic", belowGate("lanczos")]) {
      expect(isFlag(flag)).toBe(true)
      expect(isIntegrityFlag(flag)).toBe(false)
    }
    expect(isFlag("something-else")).toBe(false)
    expect(belowGate("bicubic")).toBe("below-bicubic")
  })

  it("takes a plug-in's own flag as custom:<name>, and names each flag's family", () => {
    expect(customFlag("lr-inconsistent")).toBe("custom:lr-inconsistent")
    expect(isFlag("custom:lr-inconsistent")).toBe(true)
    expect(isIntegrityFlag("custom:metric-mismatch")).toBe(false)
    const kinds: ReadonlyArray<readonly [Flag, string]> = [
      ["non-finite", "integrity"],
      ["disk-full", "cap"],
      ["ssim-drop", "notice"],
      ["below-bicubic", "below-gate"],
      ["custom:lr-inconsistent", "custom"]
    ]
    for (const [flag, kind] of kinds) expect(flagKind(flag)).toBe(kind)
  })

  it("reads any string the journal holds: one outside the families as custom:<it>", () => {
    const decode = Schema.decodeUnknownSync(JournalFlag)
    expect(decode("below-bicubic")).toBe("below-bicubic")
    expect(decode("lr-inconsistent")).toBe("custom:lr-inconsistent")
    expect(Schema.encodeSync(JournalFlag)("custom:lr-inconsistent")).toBe("custom:lr-inconsistent")
  })

  it("reads a journal line written before flags were typed", () => {
    // A line as an earlier version wrote it, with a flag no longer in the union.
    const line = JSON.stringify({
      id: 3,
      parent: "a".repeat(40),
      commit: "b".repeat(40),
      status: "discard",
      metrics: { val_psnr: 30.5 },
      reported: { val_psnr: 30.5 },
      flags: ["ssim-drop", "below-bicubic", "lr-inconsistent"],
      description: "wider",
      hypothesis: "more capacity",
      seconds: { train: 60, predict: 3 },
      cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
      fingerprint: "f",
      seed: 1,
      startedAt: "2025-01-01T00:00:00.000Z",
      finishedAt: "2025-01-01T00:01:00.000Z"
    })
    const read = parseJournal(new TextEncoder().encode(line + "\n"), "journal.jsonl")
    expect(read.entries.map((entry) => entry.flags)).toEqual([["ssim-drop", "below-bicubic", "custom:lr-inconsistent"]])
  })
})

describe("LoopError", () => {
  const cases: ReadonlyArray<readonly [LoopErrorReason, string]> = [
    [{ _tag: "BaselineFailed", what: "failed: boom", train: ["train.py"] }, "the baseline (experiment 0) failed: boom. Fix train.py, commit, and start a new run with another --tag"],
    [{ _tag: "PrepareFailed", why: "crash", log: "/r/prepare.log", logTail: "Traceback" }, "prepare failed (crash); log: /r/prepare.log\nTraceback"],
    [{ _tag: "CacheChanged", recorded: "a", current: "b" }, "the data cache changed since this research run began (a -> b); start a new tag"],
    [{ _tag: "CacheRebuiltDifferently", fingerprint: "c" }, "rebuilding the data cache gave another fingerprint (c)"],
    [{ _tag: "NoiseFailed", runs: 3, failed: ["seed 1: crash", "seed 2: crash"] }, "the noise floor needs two runs that score; 2 of 3 failed (seed 1: crash; seed 2: crash)"],
    [{ _tag: "TooFew", what: "noise runs", given: 1 }, "the noise floor needs 2 runs or more, not 1"],
    [{ _tag: "TooFew", what: "verify seeds", given: 0 }, "verify needs 1 seed or more, not 0"],
    [{ _tag: "NothingToVerify", why: "no kept baseline" }, "nothing to verify: this research run has no kept baseline yet"],
    [{ _tag: "NothingToVerify", why: "no kept experiment" }, "nothing to verify: no kept experiment"],
    [{ _tag: "NothingToVerify", why: "no such commit", commit: "beef" }, "no kept experiment has a commit starting with 'beef' (or more than one has)"]
  ]
  it.each(cases)("%j", (reason, message) => {
    expect(describeReason(reason)).toBe(message)
    const error = new LoopError({ reason })
    expect(error.message).toBe(message)
    expect(error.reason._tag).toBe(reason._tag)
  })
})
