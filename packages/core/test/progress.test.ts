/**
 * The progress lines a script prints with `Progress.print`, the live line of a terminal,
 * the flags as types, and the loop's errors as a union of reasons with one message each.
 */
import { describe, expect, it } from "@effect/vitest"
import { belowGate, isFlag, isIntegrityFlag } from "../src/Flags.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"
import { describe as describeReason, LoopError, type LoopErrorReason } from "../src/LoopError.ts"
import { eventLine, formatMetric, initialProgress, liveLine, nextProgress } from "../src/Progress.ts"

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
    [{ _tag: "PhaseStarted", id: 1, phase: "train" }, undefined]
  ] as const)("%j", (event, line) => {
    expect(eventLine(event as never, metric)).toBe(line)
  })
})

describe("the live line", () => {
  it("follows the experiment and phase, and starts from a resumed run's best", () => {
    let state = nextProgress(initialProgress, { _tag: "LoopStarted", experiments: 3, best: entry(1, "keep", 0.5) }, 0, metric)
    expect(liveLine(state, 0, metric)).toBe("| best val_mse 0.5000 (#1)")
    state = nextProgress(state, { _tag: "ExperimentStarted", id: 3, description: "d", budgetSeconds: 20 }, 0, metric)
    state = nextProgress(state, { _tag: "PhaseStarted", id: 3, phase: "train" }, 1_000, metric)
    expect(liveLine(state, 13_500, metric)).toBe("#3 train 12/20s | best val_mse 0.5000 (#1)")
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
