import { it } from "@effect/vitest"
import { applyEdits, type Proposal, Proposer, type ResearchContext } from "@autoresearch/core"
import { Deferred, Effect } from "effect"
import { describe, expect } from "vitest"
import * as Prefetch from "../src/Prefetch.ts"

const cost = (usd: number) => ({ inputTokens: 10, outputTokens: 1, cachedTokens: 0, usd })

const contextOf = (content: string, experiments = 10): ResearchContext => ({
  program: "",
  files: [{ path: "train.py", content }],
  journal: [],
  metric: { name: "loss", direction: "min" },
  lastFailure: undefined,
  left: { experiments },
  check: (edits) => Effect.asVoid(Effect.fromResult(applyEdits(new Map([["train.py", content]]), edits)))
})

/** An inner proposer that records the contexts it saw and answers from `answer`. */
const recording = (answer: (context: ResearchContext, call: number) => Proposal) => {
  const seen: Array<ResearchContext> = []
  const service = Proposer.of({
    name: "fake",
    propose: (context) =>
      Effect.sync(() => {
        seen.push(context)
        return answer(context, seen.length)
      })
  })
  return { seen, service }
}

const setting = (name: string, from: string, to: string, usd = 0.1): Proposal => ({
  description: `${name} ${from} -> ${to}`,
  hypothesis: "",
  edits: [{ path: "train.py", search: `${name} = ${from}\n`, replace: `${name} = ${to}\n` }],
  cost: cost(usd)
})

describe("prefetch", () => {
  it.live("prepares the next proposal from a snapshot while the experiment runs, and hands it out next", () =>
    Effect.gen(function*() {
      const inner = recording((_, call) => setting("B", "1", String(call + 1)))
      const proposer = yield* Prefetch.make(inner.service)
      const head = "A = 1\nB = 1\n"
      const first = yield* proposer.propose(contextOf(head))
      expect(first.description).toBe("B 1 -> 2")
      yield* Effect.sleep("20 millis")
      expect(inner.seen).toHaveLength(2)
      const snapshot = inner.seen[1]!
      expect(snapshot.inFlight ?? []).toEqual([first])
      expect(snapshot.left.experiments).toBe(9)
      // the snapshot keeps the context's check, which checks against that context's files (the loop makes it so), not the disk
      expect((yield* Effect.result(snapshot.check(first.edits)))._tag).toBe("Success")
      const second = yield* proposer.propose(contextOf(head))
      expect(second.description).toBe("B 1 -> 3")
      expect(second.cost?.usd).toBe(0.1)
    }))

  it.live("counts the running proposal's cost against the budget, and prepares nothing it could not pay for", () =>
    Effect.gen(function*() {
      const inner = recording((_, call) => setting("B", "1", String(call + 1), 0.1))
      const proposer = yield* Prefetch.make(inner.service)
      const head = "A = 1\nB = 1\n"
      yield* proposer.propose({ ...contextOf(head), left: { experiments: 10, usd: 0.25 } })
      yield* Effect.sleep("20 millis")
      expect(inner.seen).toHaveLength(2)
      expect(inner.seen[1]!.left.usd).toBeCloseTo(0.15, 10)
      // $0.15 left after one more at $0.10 is $0.05: not enough for another call of that price
      yield* proposer.propose({ ...contextOf(head), left: { experiments: 9, usd: 0.15 } })
      yield* Effect.sleep("20 millis")
      expect(inner.seen).toHaveLength(2)
    }))

  it.live("re-applies prepared edits on a new head when they still apply", () =>
    Effect.gen(function*() {
      const inner = recording((_, call) => (call === 1 ? setting("A", "1", "2") : setting("B", "1", "5")))
      const proposer = yield* Prefetch.make(inner.service)
      yield* proposer.propose(contextOf("A = 1\nB = 1\n"))
      // experiment 1 was kept: the head now has A = 2; the prepared B edit still applies
      const next = yield* proposer.propose(contextOf("A = 2\nB = 1\n"))
      expect(next.description).toBe("B 1 -> 5")
      yield* Effect.sleep("20 millis")
      expect(inner.seen).toHaveLength(3)
      expect(inner.seen[2]!.files[0]!.content).toBe("A = 2\nB = 1\n")
    }))

  it.live("proposes again when the prepared edits no longer apply, and still counts what they cost", () =>
    Effect.gen(function*() {
      const inner = recording((context, call) =>
        call === 3 ? setting("A", "2", "3", 0.2) : setting("A", context.files[0]!.content.includes("A = 2") ? "2" : "1", "2", 0.1)
      )
      const proposer = yield* Prefetch.make(inner.service)
      yield* proposer.propose(contextOf("A = 1\n"))
      const next = yield* proposer.propose(contextOf("A = 2\n"))
      // call 2 (prepared on A = 1) no longer applies on A = 2; call 3 is made with the fresh context
      expect(next.description).toBe("A 2 -> 3")
      expect(inner.seen[2]!.files[0]!.content).toBe("A = 2\n")
      expect(inner.seen[2]!.inFlight ?? []).toEqual([])
      expect(next.cost?.usd).toBeCloseTo(0.3, 12)
      expect(next.cost?.inputTokens).toBe(20)
    }))

  it.live("proposes again when the prepared proposal repeats the one that was running", () =>
    Effect.gen(function*() {
      const inner = recording((_, call) => setting("A", "1", call <= 2 ? "2" : "3"))
      const proposer = yield* Prefetch.make(inner.service)
      yield* proposer.propose(contextOf("A = 1\n"))
      expect((yield* proposer.propose(contextOf("A = 1\n"))).description).toBe("A 1 -> 3")
    }))

  it.live("never uses a prepared whole-file replacement on a file that changed", () =>
    Effect.gen(function*() {
      const whole: Proposal = { description: "rewrite", hypothesis: "", edits: [{ path: "train.py", search: "", replace: "A = 9\n" }] }
      const inner = recording((_, call) => (call === 2 ? whole : setting("A", "2", String(call + 5))))
      const proposer = yield* Prefetch.make(inner.service)
      yield* proposer.propose(contextOf("A = 2\n"))
      const next = yield* proposer.propose(contextOf("A = 2\nB = 1\n"))
      expect(next.description).toBe("A 2 -> 8")
    }))

  it.live("prepares nothing after the last experiment, and stops pending work when released", () =>
    Effect.gen(function*() {
      const inner = recording(() => setting("A", "1", "2"))
      const proposer = yield* Prefetch.make(inner.service)
      yield* proposer.propose(contextOf("A = 1\n", 1))
      yield* Effect.sleep("20 millis")
      expect(inner.seen).toHaveLength(1)

      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const slow = Effect.gen(function*() {
        yield* Deferred.succeed(started, undefined)
        yield* Effect.sleep("10 seconds")
        return setting("A", "1", "2")
      }).pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
      // the prefetch started from inside a scope is interrupted when the scope closes
      yield* Effect.scoped(
        Effect.gen(function*() {
          const proposer = yield* Prefetch.make(Proposer.of({
            name: "slow",
            propose: (context) => ((context.inFlight ?? []).length === 0 ? Effect.succeed(setting("A", "1", "2")) : slow)
          }))
          yield* proposer.propose(contextOf("A = 1\n"))
          yield* Deferred.await(started)
        })
      )
      yield* Deferred.await(interrupted).pipe(Effect.timeout("1 second"))
    }))
})
