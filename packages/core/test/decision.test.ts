/**
 * The decision on one experiment, table by table: the baseline, the run's end, the
 * scorer's verdict and gate, the integrity flags, the seal, the incumbent and threshold
 * in either direction, and the confirmation mean. No I/O.
 */
import { describe, expect, it } from "@effect/vitest"
import { decide, type DecisionInput, entryStatus, needsConfirmation } from "../src/Decision.ts"
import type { EntryStatus } from "../src/JournalEntry.ts"
import type { RunStatus } from "../src/RunResult.ts"
import type { Score } from "../src/Score.ts"

const max = { name: "psnr", direction: "max" as const }
const min = { name: "mse", direction: "min" as const }

const scored = (metrics: Record<string, number>, extra: Partial<Score> = {}): Score => ({
  status: "ok",
  metrics,
  reported: {},
  flags: [],
  ...extra
})

const input = (extra: Partial<DecisionInput> = {}): DecisionInput => ({
  baseline: false,
  run: { status: "ok" },
  score: scored({ psnr: 31 }),
  sealChanged: [],
  incumbent: 30,
  minDelta: 0.1,
  metric: max,
  ...extra
})

interface Row {
  readonly name: string
  readonly input: DecisionInput
  readonly keep: boolean
  readonly status: EntryStatus
  /** A part of the reason. */
  readonly reason: string
  readonly flags?: ReadonlyArray<string>
}

const runEnds = (status: RunStatus, entry: EntryStatus): Row => ({
  name: `a run that ended ${status} is ${entry}`,
  input: input({ run: { status, reason: `it ended ${status}` }, score: undefined }),
  keep: false,
  status: entry,
  reason: `it ended ${status}`
})

const rows: ReadonlyArray<Row> = [
  // The baseline: kept whenever it ran and scored.
  { name: "baseline that scored", input: input({ baseline: true, incumbent: undefined }), keep: true, status: "keep", reason: "baseline" },
  {
    name: "baseline below the gate is kept, flagged",
    input: input({ baseline: true, incumbent: undefined, score: scored({ psnr: 20 }, { gate: { name: "bicubic", value: 25 } }) }),
    keep: true,
    status: "keep",
    reason: "baseline",
    flags: ["below-bicubic"]
  },
  {
    name: "baseline above the gate carries no flag",
    input: input({ baseline: true, incumbent: undefined, score: scored({ psnr: 30 }, { gate: { name: "bicubic", value: 25 } }) }),
    keep: true,
    status: "keep",
    reason: "baseline",
    flags: []
  },
  {
    name: "baseline that crashed",
    input: input({ baseline: true, run: { status: "crash", reason: "Traceback: boom" }, score: undefined }),
    keep: false,
    status: "crash",
    reason: "Traceback: boom"
  },
  {
    name: "baseline the scorer found invalid",
    input: input({ baseline: true, score: scored({}, { status: "invalid", reason: "predictions missing" }) }),
    keep: false,
    status: "invalid",
    reason: "predictions missing"
  },
  {
    name: "baseline without a score",
    input: input({ baseline: true, score: undefined }),
    keep: false,
    status: "invalid",
    reason: "baseline failed"
  },
  {
    name: "baseline that changed an immutable file",
    input: input({ baseline: true, sealChanged: ["prepare.py"] }),
    keep: false,
    status: "invalid",
    reason: "immutable files changed: prepare.py",
    flags: ["immutable-modified"]
  },
  {
    name: "baseline runner flags are kept",
    input: input({ baseline: true, run: { status: "ok", flags: ["disk-full"] } }),
    keep: true,
    status: "keep",
    reason: "baseline",
    flags: ["disk-full"]
  },
  // How a run ended.
  runEnds("crash", "crash"),
  runEnds("timeout", "timeout"),
  runEnds("oom", "oom"),
  runEnds("killed", "crash"),
  {
    name: "a run without a reason is named by its status",
    input: input({ run: { status: "timeout" }, score: undefined }),
    keep: false,
    status: "timeout",
    reason: "timeout"
  },
  {
    name: "a run that hit a cap keeps the runner's flag",
    input: input({ run: { status: "oom", reason: "memory cap", flags: ["memory-cap"] }, score: undefined }),
    keep: false,
    status: "oom",
    reason: "memory cap",
    flags: ["memory-cap"]
  },
  // The scorer's verdict.
  { name: "not scored", input: input({ score: undefined }), keep: false, status: "invalid", reason: "not scored" },
  {
    name: "scored invalid",
    input: input({ score: scored({}, { status: "invalid", reason: "the scorer failed on this experiment's artifacts: x" }) }),
    keep: false,
    status: "invalid",
    reason: "the scorer failed on this experiment's artifacts"
  },
  {
    name: "no primary metric",
    input: input({ score: scored({ other: 1 }) }),
    keep: false,
    status: "discard",
    reason: "the scorer gave no finite psnr"
  },
  // Integrity flags void a run however good it looks.
  ...(["metric-mismatch", "non-finite", "budget-exceeded"] as const).map((flag): Row => ({
    name: `integrity flag ${flag}`,
    input: input({ score: scored({ psnr: 99 }, { flags: [flag] }) }),
    keep: false,
    status: "discard",
    reason: `integrity: ${flag}`,
    flags: [flag]
  })),
  {
    name: "integrity flag immutable-modified from the scorer is invalid",
    input: input({ score: scored({ psnr: 99 }, { flags: ["immutable-modified"] }) }),
    keep: false,
    status: "invalid",
    reason: "integrity: immutable-modified",
    flags: ["immutable-modified"]
  },
  {
    name: "a notice flag does not decide",
    input: input({ score: scored({ psnr: 31 }, { flags: ["ssim-drop"] }) }),
    keep: true,
    status: "keep",
    reason: "beats incumbent",
    flags: ["ssim-drop"]
  },
  // The seal.
  {
    name: "a changed seal voids a winner",
    input: input({ score: scored({ psnr: 99 }), sealChanged: ["prepare.py", "cache/hidden/0.npy"] }),
    keep: false,
    status: "invalid",
    reason: "immutable files changed: prepare.py, cache/hidden/0.npy",
    flags: ["immutable-modified"]
  },
  {
    name: "a changed seal on a crashed run keeps the crash, flagged",
    input: input({ run: { status: "crash", reason: "boom" }, score: undefined, sealChanged: ["prepare.py"] }),
    keep: false,
    status: "crash",
    reason: "boom",
    flags: ["immutable-modified"]
  },
  // The gate.
  {
    name: "below the gate",
    input: input({ score: scored({ psnr: 24 }, { gate: { name: "bicubic", value: 25 } }), incumbent: 20 }),
    keep: false,
    status: "discard",
    reason: "does not beat bicubic",
    flags: ["below-bicubic"]
  },
  {
    name: "equal to the gate is below it",
    input: input({ score: scored({ psnr: 25 }, { gate: { name: "lanczos", value: 25 } }), incumbent: 20 }),
    keep: false,
    status: "discard",
    reason: "does not beat lanczos",
    flags: ["below-lanczos"]
  },
  {
    name: "above the gate and the incumbent",
    input: input({ score: scored({ psnr: 31 }, { gate: { name: "bicubic", value: 25 } }) }),
    keep: true,
    status: "keep",
    reason: "psnr 31.0000 beats incumbent 30.0000",
    flags: []
  },
  {
    name: "below the gate, lower is better",
    input: input({ metric: min, score: scored({ mse: 0.3 }, { gate: { name: "bicubic", value: 0.2 } }), incumbent: 0.5 }),
    keep: false,
    status: "discard",
    reason: "does not beat bicubic",
    flags: ["below-bicubic"]
  },
  // The incumbent and the threshold.
  { name: "first scored experiment", input: input({ incumbent: undefined }), keep: true, status: "keep", reason: "first scored experiment" },
  { name: "better by more than the threshold", input: input(), keep: true, status: "keep", reason: "beats incumbent" },
  {
    name: "better by less than the threshold",
    input: input({ score: scored({ psnr: 30.05 }) }),
    keep: false,
    status: "discard",
    reason: "not better by more than 0.1"
  },
  { name: "equal to the incumbent", input: input({ score: scored({ psnr: 30 }), minDelta: 0 }), keep: false, status: "discard", reason: "vs incumbent" },
  { name: "worse", input: input({ score: scored({ psnr: 29 }) }), keep: false, status: "discard", reason: "vs incumbent 30.0000" },
  { name: "lower is better: better", input: input({ metric: min, score: scored({ mse: 0.1 }), incumbent: 0.3 }), keep: true, status: "keep", reason: "beats incumbent" },
  {
    name: "lower is better: within the threshold",
    input: input({ metric: min, score: scored({ mse: 0.25 }), incumbent: 0.3 }),
    keep: false,
    status: "discard",
    reason: "not better by more than 0.1"
  },
  { name: "lower is better: worse", input: input({ metric: min, score: scored({ mse: 0.4 }), incumbent: 0.3 }), keep: false, status: "discard", reason: "vs incumbent" },
  { name: "a measured threshold of 0", input: input({ score: scored({ psnr: 30.0001 }), minDelta: 0 }), keep: true, status: "keep", reason: "beats" },
  // Confirmation runs.
  {
    name: "confirmed: the mean still beats",
    input: input({ score: scored({ psnr: 31 }), confirmations: [30.8, 31.2] }),
    keep: true,
    status: "keep",
    reason: "psnr 31.0000 beats incumbent 30.0000"
  },
  {
    name: "not confirmed: the mean falls within the threshold",
    input: input({ score: scored({ psnr: 31 }), confirmations: [29.5, 29.6] }),
    keep: false,
    status: "discard",
    reason: "not confirmed over 3 seeds: psnr 30.0333 vs incumbent 30.0000"
  },
  {
    name: "not confirmed: a confirmation run that did not score",
    input: input({ score: scored({ psnr: 31 }), confirmations: [31, undefined] }),
    keep: false,
    status: "discard",
    reason: "not confirmed over 3 seeds: the scorer gave no finite psnr"
  },
  {
    name: "lower is better: confirmed",
    input: input({ metric: min, score: scored({ mse: 0.1 }), incumbent: 0.5, confirmations: [0.12, 0.14] }),
    keep: true,
    status: "keep",
    reason: "beats incumbent"
  },
  {
    name: "confirmations of a discard change nothing",
    input: input({ score: scored({ psnr: 29 }), confirmations: [40, 40] }),
    keep: false,
    status: "discard",
    reason: "psnr 29.0000 vs incumbent"
  },
  {
    name: "confirmations of the baseline change nothing",
    input: input({ baseline: true, incumbent: undefined, confirmations: [1, 2] }),
    keep: true,
    status: "keep",
    reason: "baseline"
  }
]

describe("decide", () => {
  it.each(rows)("$name", (row) => {
    const verdict = decide(row.input)
    expect(verdict.keep).toBe(row.keep)
    expect(verdict.status).toBe(row.status)
    expect(verdict.reason).toContain(row.reason)
    if (row.flags !== undefined) expect([...verdict.flags].sort()).toEqual([...row.flags].sort())
  })

  it("gives the status entryStatus gives for a scored run", () => {
    for (const row of rows.filter((row) => row.input.sealChanged.length === 0)) {
      expect(entryStatus(row.input.run, row.input.score, decide(row.input)), row.name).toBe(row.status)
    }
  })

  it("records the confirmation mean as the primary metric (of the runs that scored), and the confirmations that scored", () => {
    const verdict = decide(input({ score: scored({ psnr: 31, ssim: 0.9 }), confirmations: [32, undefined, 33] }))
    expect(verdict.keep).toBe(false)
    expect(verdict.metrics).toEqual({ psnr: 32, ssim: 0.9 })
    expect(verdict.confirmations).toEqual([32, 33])
    const confirmed = decide(input({ score: scored({ psnr: 31, ssim: 0.9 }), confirmations: [32, 33] }))
    expect(confirmed.metrics).toEqual({ psnr: 32, ssim: 0.9 })
    expect(confirmed.confirmations).toEqual([32, 33])
  })

  it("records the scorer's metrics as they are without confirmations", () => {
    expect(decide(input()).metrics).toEqual({ psnr: 31 })
    expect(decide(input()).confirmations).toBeUndefined()
  })

  it("lists each flag once: the runner's, the scorer's and the decision's", () => {
    const verdict = decide(input({
      run: { status: "ok", flags: ["disk-full"] },
      score: scored({ psnr: 20 }, { flags: ["disk-full", "ssim-drop"], gate: { name: "bicubic", value: 25 } })
    }))
    expect(verdict.flags).toEqual(["disk-full", "ssim-drop", "below-bicubic"])
  })
})

describe("needsConfirmation", () => {
  const cases: ReadonlyArray<readonly [string, DecisionInput, number, boolean]> = [
    ["a keep with confirm runs asked for", input(), 2, true],
    ["a keep without confirm runs", input(), 0, false],
    ["a discard", input({ score: scored({ psnr: 29 }) }), 2, false],
    ["the baseline", input({ baseline: true }), 2, false],
    ["a keep already confirmed", input({ confirmations: [31, 31] }), 2, false]
  ]
  it.each(cases)("%s: %s", (_name, given, runs, expected) => {
    expect(needsConfirmation(decide(given), given, runs)).toBe(expected)
  })
})
