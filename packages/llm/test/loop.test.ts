import { it } from "@effect/vitest"
import { Loop, LoopEvents, Research, resolveConfig, type ResolvedConfig } from "@autoresearch/core"
import { CommandScorer } from "@autoresearch/metrics"
import { LocalRunner } from "@autoresearch/runners"
import { Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect } from "vitest"
import toyConfig from "../../../examples/toy/autoresearch.config.ts"
import { branchHead, git, makeToyRepo, readJournal, type ToyRepo } from "../../cli/test/fixtures.ts"
import * as ClaudeProposer from "../src/ClaudeProposer.ts"
import type { ModelOptions } from "../src/Dialogue.ts"
import { costOf, defaultPrices } from "../src/Pricing.ts"
import { anthropic, type Answer, serve, type Server, type TokenCounts } from "./servers.ts"

const repos: Array<ToyRepo> = []
afterEach(() => {
  for (const repo of repos.splice(0)) repo.cleanup()
})
const newRepo = (trainAppend = "") => {
  const repo = makeToyRepo()
  repos.push(repo)
  if (trainAppend !== "") {
    fs.appendFileSync(path.join(repo.research, "train.py"), trainAppend)
    git(repo.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qam", "slower training")
  }
  return repo
}

/** Runs the loop on the toy repository with the Claude proposer pointed at `server`; times the gaps between trainings. */
const runLoop = (repo: ToyRepo, tag: string, server: Server, budget: Partial<ResolvedConfig["budget"]>, options: ModelOptions = {}) =>
  Effect.gen(function*() {
    const base = resolveConfig(toyConfig)
    const config: ResolvedConfig = { ...base, budget: { ...base.budget, ...budget } }
    const where = yield* Research.paths(repo.research, tag)
    const layer = Layer.mergeAll(
      Research.layer(where, config),
      ClaudeProposer.layer({
        model: "claude-sonnet-4-6",
        apiKey: "test-key",
        baseURL: server.url,
        env: {},
        repairTurns: 1,
        retry: { baseDelayMs: 10, timeoutMs: 20_000 },
        ...options
      }),
      CommandScorer.layer({ command: ["python3", "prepare.py", "score"], metric: "val_mse" }),
      LocalRunner.layer()
    )
    const trainings: Array<{ id: number; started: number; finished?: number }> = []
    const summary = yield* Effect.gen(function*() {
      const events = yield* LoopEvents
      yield* Effect.forkScoped(Stream.runForEach(events.subscribe, (event) =>
        Effect.sync(() => {
          if (event._tag === "PhaseStarted" && event.phase === "train") trainings.push({ id: event.id, started: Date.now() })
          if (event._tag === "PhaseFinished" && event.phase === "train") trainings.at(-1)!.finished = Date.now()
        })))
      return yield* Loop.run(config, where)
    }).pipe(Effect.scoped, Effect.provide(layer))
    // seconds from the end of one training to the start of the next: the GPU's idle time
    const idle = trainings.slice(1).map((training, i) => (training.started - trainings[i]!.finished!) / 1000)
    return { summary, journal: readJournal(repo, tag), idle }
  })

const edit = (search: string, replace: string, path = "train.py") => ({ path, search, replace })
const proposal = (description: string, ...edits: Array<ReturnType<typeof edit>>) => ({
  description,
  hypothesis: `${description} should fit the held-out points better`,
  edits
})

const price = defaultPrices["claude-sonnet-4-6"]!
const usd = (...calls: Array<TokenCounts>) =>
  calls.reduce((sum, call) => sum + costOf({ cacheRead: 0, cacheWrite: 0, ...call }, price).usd, 0)

describe("a full loop with the Claude proposer served by a local Messages API", () => {
  it.live("keeps, repairs, discards and rejects, with each experiment's cost in the journal", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const calls: Array<{ body: unknown; tokens: TokenCounts }> = [
        {
          body: proposal(
            "degree 5, faster and longer",
            edit("DEGREE = 3 ", "DEGREE = 5 "),
            edit("LEARNING_RATE = 0.05", "LEARNING_RATE = 0.1"),
            edit("STEPS = 300 ", "STEPS = 1500")
          ),
          tokens: { input: 1200, output: 150, cacheWrite: 2500 }
        },
        // written against the old head: rejected, then repaired against the new one
        { body: proposal("degree 1", edit("DEGREE = 3 ", "DEGREE = 1 ")), tokens: { input: 300, output: 60, cacheRead: 2500 } },
        { body: proposal("degree 1", edit("DEGREE = 5 ", "DEGREE = 1 ")), tokens: { input: 400, output: 70, cacheRead: 2500 } },
        // an immutable file, twice: the loop records it invalid and goes on
        { body: proposal("rewrite the scorer", edit("", "print('hacked')\n", "prepare.py")), tokens: { input: 300, output: 40 } },
        { body: proposal("rewrite the scorer", edit("", "print('hacked')\n", "prepare.py")), tokens: { input: 500, output: 40 } }
      ]
      const server = yield* serve((_, index): Answer => ({ json: anthropic.toolUse(calls[index]!.body, calls[index]!.tokens) }))
      const { summary, journal } = yield* runLoop(repo, "claude", server, { maxExperiments: 4 })

      expect(summary.reason).toContain("max experiments (4)")
      expect(journal.map((entry) => [entry.id, entry.status])).toEqual([[0, "keep"], [1, "keep"], [2, "discard"], [3, "invalid"]])
      expect(journal[1]!.description).toBe("degree 5, faster and longer")
      expect(journal[1]!.metrics.val_mse).toBeLessThan(journal[0]!.metrics.val_mse)
      expect(branchHead(repo, "claude")).toBe(journal[1]!.commit)
      expect(journal[3]!.commit).toBeNull()
      expect(journal[3]!.reason).toContain("prepare.py: not a mutable file")
      expect(server.received).toHaveLength(5)

      // the second proposal saw the new head, the journal and the rejection of its first try
      const second = JSON.stringify(server.received[1]!.body)
      expect(second).toContain("DEGREE = 5 ")
      expect(second).toContain("| 1 | keep |")
      expect(JSON.stringify(server.received[2]!.body.messages.at(-1))).toContain("train.py: search text not found")

      // each experiment's cost is what its calls cost, in tokens and dollars
      expect(journal[0]!.cost.usd).toBe(0)
      expect(journal[1]!.cost).toMatchObject({ inputTokens: 3700, outputTokens: 150, cachedTokens: 0 })
      expect(journal[1]!.cost.usd).toBeCloseTo(usd(calls[0]!.tokens), 12)
      expect(journal[2]!.cost).toMatchObject({ inputTokens: 300 + 2500 + 400 + 2500, outputTokens: 130, cachedTokens: 5000 })
      expect(journal[2]!.cost.usd).toBeCloseTo(usd(calls[1]!.tokens, calls[2]!.tokens), 12)
      expect(journal[3]!.cost.usd).toBeCloseTo(usd(calls[3]!.tokens, calls[4]!.tokens), 12)
    }))

  it.live("stops cleanly when the proposer has spent maxCostUsd", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      // each call costs $0.40 at this price
      const server = yield* serve((_, index): Answer => ({
        json: anthropic.toolUse(proposal(`comment ${index}`, edit("# Data\n", `# Data (variant ${index})\n`)), { input: 4000, output: 0 })
      }))
      const { summary, journal } = yield* runLoop(repo, "budget", server, { maxExperiments: 10, maxCostUsd: 1 }, {
        model: "priced",
        pricing: { priced: { input: 100, output: 0, cacheRead: 0, cacheWrite: 0 } }
      })
      expect(summary.reason).toContain("reached max cost ($1)")
      expect(journal).toHaveLength(4)
      expect(journal.reduce((sum, entry) => sum + entry.cost.usd, 0)).toBeCloseTo(1.2, 9)
      // the last proposal was asked with the budget left in its context
      expect(JSON.stringify(server.received.at(-1)!.body)).toContain("$0.20 of proposer spending")
    }))

  it.live("with prefetch, the next proposal is ready when training ends", () =>
    Effect.gen(function*() {
      // The server takes 2 s per proposal and training 3 s, so a prepared proposal is ready when
      // training ends. Its propose time is then only the check of its edits: a python start,
      // which can take most of a second on a loaded machine (pyenv's shim), and a busy event
      // loop; still well under the 2 s an unprepared proposal takes.
      const repo = newRepo("\nimport time\ntime.sleep(3)\n")
      const server = yield* serve((_, index): Answer => ({
        delayMs: 2000,
        json: anthropic.toolUse(proposal(`comment ${index}`, edit("# Data\n", `# Data (variant ${index})\n`)))
      }))
      const { journal } = yield* runLoop(repo, "prefetch", server, { maxExperiments: 4 }, { prefetch: true })
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "discard", "discard", "discard"])
      expect(journal[1]!.seconds.propose).toBeGreaterThanOrEqual(1.9)
      expect(journal[2]!.seconds.propose).toBeLessThan(1.5)
      expect(journal[3]!.seconds.propose).toBeLessThan(1.5)
      // nothing is prepared after the last experiment
      expect(server.received).toHaveLength(3)
      // the prepared proposals were asked while the one before them was running
      expect(JSON.stringify(server.received[1]!.body)).toContain("Running now")
    }))
})

describe.runIf(process.env.AUTORESEARCH_MEASURE_PREFETCH === "1")("prefetch: idle time between experiments", () => {
  it.live("with a model that takes 5 s to answer and 6 s of training", () =>
    Effect.gen(function*() {
      const rows: Array<string> = []
      for (const prefetch of [false, true]) {
        const repo = newRepo("\nimport time\ntime.sleep(6)\n")
        const server = yield* serve((_, index): Answer => ({
          delayMs: 5000,
          json: anthropic.toolUse(proposal(`comment ${index}`, edit("# Data\n", `# Data (variant ${index})\n`)))
        }))
        const { journal, idle } = yield* runLoop(repo, `idle-${prefetch}`, server, { maxExperiments: 5 }, { prefetch })
        const waits = journal.slice(1).map((entry) => entry.seconds.propose ?? 0)
        const mean = (values: Array<number>) => values.reduce((a, b) => a + b, 0) / values.length
        rows.push(
          `prefetch ${prefetch ? "on " : "off"}: idle between trainings ${idle.map((s) => s.toFixed(2)).join(", ")} s ` +
            `(mean ${mean(idle).toFixed(2)} s); waiting for the model ${waits.map((s) => s.toFixed(2)).join(", ")} s`
        )
      }
      console.log(rows.join("\n"))
    }), 400_000)
})
