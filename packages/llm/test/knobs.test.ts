import { it } from "@effect/vitest"
import { applyEdits, type JournalEntry, ProposerError, type ResearchContext } from "@autoresearch/core"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import * as KnobProposer from "../src/KnobProposer.ts"
import { canonical, type Config, configOf, fromUnit, type Knob, knobEdit, parseKnobs, toUnit } from "../src/Knobs.ts"
import { random } from "../src/KnobSearch.ts"
import { toyContext, toyDir } from "./servers.ts"

const toyTrain = fs.readFileSync(path.join(toyDir, "train.py"), "utf8")

describe("# @knob annotations", () => {
  it("reads the toy's knobs with their ranges", () => {
    const { knobs, problems } = parseKnobs([{ path: "train.py", content: toyTrain }])
    expect(problems).toEqual([])
    expect(knobs.map((knob) => [knob.id, knob.value, knob.domain])).toEqual([
      ["DEGREE", "3", { _tag: "int", min: 1, max: 12 }],
      ["LEARNING_RATE", "0.05", { _tag: "log", min: 1e-4, max: 1 }],
      ["STEPS", "300", { _tag: "int", min: 50, max: 3000 }],
      ["L2", "0.0", { _tag: "log", min: 1e-6, max: 0.1 }]
    ])
  })

  it("reads float and choice knobs, and says what is wrong with a bad annotation", () => {
    const content = [
      "DROPOUT = 0.1  # @knob float 0..0.5",
      "    OPTIMIZER = \"adam\"  # @knob choice adam|sgd|lion",
      "BAD = 3  # @knob int 5",
      "LOGGY = 1.0  # @knob log 0..1",
      "ODD = 2  # @knob bogus 1..2"
    ].join("\n")
    const { knobs, problems } = parseKnobs([{ path: "model.py", content }, { path: "other.py", content: "DROPOUT = 0.2  # @knob float 0..1" }])
    expect(knobs.map((knob) => knob.id)).toEqual(["model.py:DROPOUT", "OPTIMIZER", "other.py:DROPOUT"])
    expect(knobs[1]!.domain).toEqual({ _tag: "choice", options: ["adam", "sgd", "lion"] })
    expect(problems.map((problem) => [problem.line, problem.reason])).toEqual([
      [3, "expected a range like `int 1..10`, got '5'"],
      [4, "a log range needs a positive lower bound"],
      [5, "unknown knob kind 'bogus' (int, float, log or choice)"]
    ])
  })

  it("maps values to the unit interval and back, keeping floats floats and quotes quotes", () => {
    const [, lr, , l2] = parseKnobs([{ path: "train.py", content: toyTrain }]).knobs as [Knob, Knob, Knob, Knob]
    expect(toUnit(lr, "0.01")).toBeCloseTo(0.5, 12)
    expect(fromUnit(lr, 0.5)).toBe("0.01")
    expect(fromUnit(lr, 1)).toBe("1.0")
    expect(toUnit(l2, "0.0")).toBe(0)
    const choice = parseKnobs([{ path: "m.py", content: "ACT = 'relu'  # @knob choice relu|gelu" }]).knobs[0]!
    expect(fromUnit(choice, 1)).toBe("'gelu'")
    expect(toUnit(choice, "'gelu'")).toBe(1)
    expect(canonical(lr, "5e-2")).toBe(canonical(lr, "0.05"))
  })

  it("writes a value back as an edit of the annotated line only", () => {
    const degree = parseKnobs([{ path: "train.py", content: toyTrain }]).knobs[0]!
    const changed = applyEdits(new Map([["train.py", toyTrain]]), [knobEdit(degree, "7")])
    const text = Result.getOrThrow(changed).get("train.py")!
    expect(text).toContain("DEGREE = 7          # @knob int 1..12")
    expect(text.replace("DEGREE = 7 ", "DEGREE = 3 ")).toBe(toyTrain)
  })
})

// ---------------------------------------------------------------------------
// A ratchet over an objective, without training: the knob proposer against pure random sampling

const synthetic = [
  "LR = 0.1          # @knob log 1e-5..1",
  "WEIGHT_DECAY = 0.01  # @knob log 1e-6..1e-1",
  "WIDTH = 32        # @knob int 8..512",
  "DROPOUT = 0.4     # @knob float 0..0.5",
  "ACTIVATION = \"relu\"  # @knob choice relu|gelu|silu",
  ""
].join("\n")

/** A smooth objective with its minimum (0) at LR 3e-3, WEIGHT_DECAY 1e-4, WIDTH 200, DROPOUT 0.1, gelu. */
const objective = (config: Config) =>
  (Math.log10(Number(config.LR)) - Math.log10(3e-3)) ** 2 +
  0.5 * (Math.log10(Math.max(1e-6, Number(config.WEIGHT_DECAY))) + 4) ** 2 +
  ((Number(config.WIDTH) - 200) / 150) ** 2 +
  ((Number(config.DROPOUT) - 0.1) / 0.15) ** 2 +
  (config.ACTIVATION?.includes("gelu") ? 0 : 0.3)

const entry = (id: number, fields: Partial<JournalEntry>): JournalEntry => ({
  id,
  parent: null,
  commit: null,
  status: "discard",
  metrics: {},
  reported: {},
  flags: [],
  description: "",
  hypothesis: "",
  seconds: {},
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
  fingerprint: "",
  seed: 0,
  startedAt: "",
  finishedAt: "",
  ...fields
})

const contextFor = (content: string, journal: ReadonlyArray<JournalEntry>): ResearchContext => ({
  program: "",
  files: [{ path: "model.py", content }],
  journal,
  metric: { name: "loss", direction: "min" },
  lastFailure: undefined,
  left: {},
  check: (edits) => Effect.asVoid(Effect.fromResult(applyEdits(new Map([["model.py", content]]), edits)))
})

/** Runs the knob proposer for `experiments` experiments behind a ratchet that keeps gains over `minDelta`. */
const ratchet = (seed: number, experiments: number, file = synthetic, score = objective, minDelta = 0) =>
  Effect.gen(function*() {
    const proposer = KnobProposer.make({ seed })
    let content = file
    let best = score(configOf(parseKnobs([{ path: "model.py", content }]).knobs))
    let lowest = best
    const journal: Array<JournalEntry> = [entry(0, { status: "keep", metrics: { loss: best } })]
    const moves: Array<string> = []
    for (let id = 1; id <= experiments; id++) {
      const proposal = yield* proposer.propose(contextFor(content, journal))
      const next = Result.getOrThrow(applyEdits(new Map([["model.py", content]]), proposal.edits)).get("model.py")!
      const value = score(configOf(parseKnobs([{ path: "model.py", content: next }]).knobs))
      const keep = value < best - minDelta
      if (keep) {
        best = value
        content = next
      }
      lowest = Math.min(lowest, value)
      moves.push(proposal.hypothesis.split(" ").slice(0, 3).join(" "))
      journal.push(entry(id, { status: keep ? "keep" : "discard", metrics: { loss: value }, ...(proposal.source ? { source: proposal.source } : {}) }))
    }
    return { best: lowest, journal, moves }
  })

/** The best of `experiments` configurations drawn uniformly (log-uniformly for log knobs), and the baseline. */
const randomSearch = (seed: number, experiments: number) => {
  const { knobs } = parseKnobs([{ path: "model.py", content: synthetic }])
  const next = random(seed + 1_000_003)
  let best = objective(configOf(knobs))
  for (let i = 0; i < experiments; i++) {
    const config = Object.fromEntries(knobs.map((knob) =>
      [knob.id, fromUnit(knob, knob.domain._tag === "choice" ? Math.floor(next() * knob.domain.options.length) : next())]
    ))
    best = Math.min(best, objective(config))
  }
  return best
}

describe("the knob proposer", () => {
  it.effect("proposes edits the loop accepts, with a source that records the configuration", () =>
    Effect.gen(function*() {
      const context = toyContext()
      const proposal = yield* KnobProposer.make({ seed: 1 }).propose(context)
      yield* context.check(proposal.edits)
      expect(proposal.source).toMatch(/^knob:\{"set":\{"DEGREE":/)
      expect(proposal.description).toMatch(/^(DEGREE|LEARNING_RATE|STEPS|L2) \S+ -> \S+/)
      expect(proposal.edits.every((edit) => edit.path === "train.py" && edit.search.includes("# @knob"))).toBe(true)
    }))

  it.effect("is reproducible: the same seed and journal give the same proposals, another seed others", () =>
    Effect.gen(function*() {
      const a = yield* ratchet(7, 12)
      const b = yield* ratchet(7, 12)
      const c = yield* ratchet(8, 12)
      expect(a.journal.map((e) => e.source)).toEqual(b.journal.map((e) => e.source))
      expect(a.journal.map((e) => e.source)).not.toEqual(c.journal.map((e) => e.source))
    }))

  it.effect("never repeats a configuration, and says when a small space is exhausted", () =>
    Effect.gen(function*() {
      const { journal } = yield* ratchet(3, 40)
      const sources = journal.flatMap((e) => (e.source === undefined ? [] : [JSON.stringify(JSON.parse(e.source.slice(5)).set)]))
      expect(new Set(sources).size).toBe(sources.length)
      const tiny = "A = 1  # @knob int 1..3\nB = \"x\"  # @knob choice x|y\n"
      const error = yield* Effect.flip(ratchet(3, 6, tiny, (config) => Number(config.A)))
      expect(error._tag).toBe("ProposerExhausted")
    }))

  it.effect("does not propose what is running now", () =>
    Effect.gen(function*() {
      const proposer = KnobProposer.make({ seed: 5 })
      const baseline = entry(0, { status: "keep", metrics: { loss: 1 } })
      // With one more experiment in the journal (a crash, which teaches the search nothing), the
      // search draws from the stream it uses with one proposal in flight: this is what it would repeat.
      const running = yield* proposer.propose(contextFor(synthetic, [baseline, entry(1, { status: "crash" })]))
      const context = contextFor(synthetic, [baseline])
      const next = yield* proposer.propose({ ...context, inFlight: [running] })
      const setOf = (proposal: { readonly source?: string | undefined }) => JSON.stringify(JSON.parse(proposal.source!.slice(5)).set)
      expect(setOf(next)).not.toBe(setOf(running))
    }))

  it.effect("fails with what to do when there are no knobs", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(KnobProposer.make().propose(contextFor("x = 1\n", [])))
      expect(error).toBeInstanceOf(ProposerError)
      expect((error as ProposerError).fix).toContain("# @knob")
    }))

  it.effect("beats pure random sampling at equal experiments on a synthetic objective", () =>
    Effect.gen(function*() {
      const experiments = 40
      const seeds = Array.from({ length: 24 }, (_, i) => i)
      const knob: Array<number> = []
      const moves = new Set<string>()
      for (const seed of seeds) {
        const run = yield* ratchet(seed, experiments, synthetic, objective, 0.05)
        knob.push(run.best)
        run.moves.forEach((move) => moves.add(move))
      }
      const uniform = seeds.map((seed) => randomSearch(seed, experiments))
      const mean = (values: Array<number>) => values.reduce((a, b) => a + b, 0) / values.length
      const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
      const wins = seeds.filter((i) => knob[i]! < uniform[i]!).length
      console.log(
        `knob search vs random, ${experiments} experiments, ${seeds.length} seeds: mean best ${mean(knob).toFixed(4)} vs ${
          mean(uniform).toFixed(4)
        }, median ${median(knob).toFixed(4)} vs ${median(uniform).toFixed(4)}, knob better in ${wins}/${seeds.length}`
      )
      expect(mean(knob)).toBeLessThan(mean(uniform) * 0.6)
      expect(wins).toBeGreaterThanOrEqual(Math.ceil(seeds.length * 0.75))
      // both moves of the strategy occur: steps around the incumbent, and two near misses together
      expect([...moves].join(" | ")).toMatch(/A step of/)
      expect([...moves].join(" | ")).toMatch(/The changes of/)
    }))
})
