import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { JournalEntry } from "../src/JournalEntry.ts"
import { Proposer, ProposerError, ProposerExhausted, type ResearchContext } from "../src/Proposer.ts"
import * as ReplayProposer from "../src/ReplayProposer.ts"

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "replay-test-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const write = (relative: string, content: string) => {
  const full = path.join(dir, relative)
  fs.mkdirSync(path.dirname(full), { recursive: true })
  fs.writeFileSync(full, content)
}

const entry = (id: number, source: string | undefined): JournalEntry => ({
  id,
  parent: null,
  commit: null,
  status: "discard",
  metrics: {},
  reported: {},
  flags: [],
  description: `entry ${id}`,
  hypothesis: "",
  ...(source === undefined ? {} : { source }),
  seconds: {},
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
  fingerprint: "",
  seed: 0,
  startedAt: "2025-01-01T00:00:00.000Z",
  finishedAt: "2025-01-01T00:00:00.000Z"
})

const context = (journal: ReadonlyArray<JournalEntry> = []): ResearchContext => ({
  program: "",
  files: [],
  journal,
  metric: { name: "val_mse", direction: "min" },
  lastFailure: undefined,
  left: {},
  check: () => Effect.void
})

const byPath = <T extends { readonly path: string }>(edits: ReadonlyArray<T>) => [...edits].sort((a, b) => (a.path < b.path ? -1 : 1))

describe("ReplayProposer", () => {
  it.live("is named replay", () =>
    Effect.gen(function*() {
      assert.strictEqual(ReplayProposer.make(dir).name, "replay")
    }))

  it.live("proposes the first subfolder in name order as whole-file edits", () =>
    Effect.gen(function*() {
      write("02-wider/model.py", "width = 128\n")
      write("01-lower-lr/train.py", "lr = 0.001\n")
      write("01-lower-lr/src/util.py", "def f():\n    return 1\n")
      write("01-lower-lr/DESCRIPTION", "Lower the learning rate\nSmaller steps\nshould be more stable.\n")
      write("loose-file.txt", "not a candidate")
      const proposal = yield* ReplayProposer.make(dir).propose(context())
      assert.strictEqual(proposal.source, "replay:01-lower-lr")
      assert.strictEqual(proposal.description, "Lower the learning rate")
      assert.strictEqual(proposal.hypothesis, "Smaller steps\nshould be more stable.")
      assert.deepStrictEqual(byPath(proposal.edits), [
        { path: "src/util.py", search: "", replace: "def f():\n    return 1\n" },
        { path: "train.py", search: "", replace: "lr = 0.001\n" }
      ])
    }))

  it.live("adds the search/replace edits of edits.json after the whole files", () =>
    Effect.gen(function*() {
      write("01/model.py", "width = 128\n")
      write("01/edits.json", JSON.stringify([{ path: "train.py", search: "LR = 0.1", replace: "LR = 0.05" }]))
      const proposal = yield* ReplayProposer.make(dir).propose(context())
      assert.deepStrictEqual(proposal.edits, [
        { path: "model.py", search: "", replace: "width = 128\n" },
        { path: "train.py", search: "LR = 0.1", replace: "LR = 0.05" }
      ])
    }))

  it.live("fails with ProposerError naming edits.json when it is not a list of edits", () =>
    Effect.gen(function*() {
      write("01/edits.json", JSON.stringify([{ path: "train.py", search: "x" }]))
      const error = yield* Effect.flip(ReplayProposer.make(dir).propose(context()))
      assert.instanceOf(error, ProposerError)
      assert.include((error as ProposerError).reason, "edits.json")
    }))

  it.live("uses the folder name when there is no DESCRIPTION, or its first line is blank", () =>
    Effect.gen(function*() {
      write("a-first/train.py", "x = 1\n")
      const proposal = yield* ReplayProposer.make(dir).propose(context())
      assert.strictEqual(proposal.description, "a-first")
      assert.strictEqual(proposal.hypothesis, "")
      assert.deepStrictEqual(proposal.edits, [{ path: "train.py", search: "", replace: "x = 1\n" }])

      write("a-first/DESCRIPTION", "   \n")
      assert.strictEqual((yield* ReplayProposer.make(dir).propose(context())).description, "a-first")
    }))

  it.live("trims the DESCRIPTION's first line", () =>
    Effect.gen(function*() {
      write("c/train.py", "x = 1\n")
      write("c/DESCRIPTION", "  Try a bigger batch  \n")
      const proposal = yield* ReplayProposer.make(dir).propose(context())
      assert.strictEqual(proposal.description, "Try a bigger batch")
    }))

  it.live("skips folders whose replay source is already in the journal", () =>
    Effect.gen(function*() {
      write("01/train.py", "a\n")
      write("02/train.py", "b\n")
      write("03/train.py", "c\n")
      const proposer = ReplayProposer.make(dir)
      const second = yield* proposer.propose(context([entry(0, undefined), entry(1, "replay:01")]))
      assert.strictEqual(second.source, "replay:02")
      assert.strictEqual(second.edits[0]!.replace, "b\n")
      const third = yield* proposer.propose(context([entry(1, "replay:01"), entry(2, "replay:02")]))
      assert.strictEqual(third.source, "replay:03")
      const afterGap = yield* proposer.propose(context([entry(1, "replay:02")]))
      assert.strictEqual(afterGap.source, "replay:01")
    }))

  it.live("skips folders in flight (parallel workers, prefetching), and is exhausted when the rest are", () =>
    Effect.gen(function*() {
      write("01/train.py", "a\n")
      write("02/train.py", "b\n")
      const proposer = ReplayProposer.make(dir)
      const running = yield* proposer.propose(context())
      assert.strictEqual(running.source, "replay:01")
      const next = yield* proposer.propose({ ...context(), inFlight: [running] })
      assert.strictEqual(next.source, "replay:02")
      const none = yield* Effect.flip(proposer.propose({ ...context([entry(1, "replay:01")]), inFlight: [next] }))
      assert.instanceOf(none, ProposerExhausted)
    }))

  it.live("does not treat other sources with a similar name as done", () =>
    Effect.gen(function*() {
      write("01/train.py", "a\n")
      const proposal = yield* ReplayProposer.make(dir).propose(context([entry(0, "01"), entry(1, "knob:01")]))
      assert.strictEqual(proposal.source, "replay:01")
    }))

  it.live("fails with ProposerExhausted when every folder is done", () =>
    Effect.gen(function*() {
      write("01/train.py", "a\n")
      write("02/train.py", "b\n")
      const error = yield* Effect.flip(ReplayProposer.make(dir).propose(context([entry(0, "replay:01"), entry(1, "replay:02")])))
      assert.instanceOf(error, ProposerExhausted)
      assert.strictEqual(error._tag, "ProposerExhausted")
      assert.strictEqual(error.proposer, "replay")
    }))

  it.live("fails with ProposerExhausted for a folder with no subfolders", () =>
    Effect.gen(function*() {
      write("only-a-file.txt", "x")
      const error = yield* Effect.flip(ReplayProposer.make(dir).propose(context()))
      assert.instanceOf(error, ProposerExhausted)
    }))

  it.live("fails with ProposerError when the folder is missing", () =>
    Effect.gen(function*() {
      const missing = path.join(dir, "does-not-exist")
      const error = yield* Effect.flip(ReplayProposer.make(missing).propose(context()))
      assert.instanceOf(error, ProposerError)
      assert.strictEqual(error._tag, "ProposerError")
      assert.strictEqual(error.proposer, "replay")
      assert.include(error.reason, missing)
      assert.strictEqual(error.fix, "--replay-dir")
    }))

  it.live("is provided as a Proposer layer", () =>
    Effect.gen(function*() {
      write("01/train.py", "a\n")
      const proposer = yield* Proposer
      assert.strictEqual(proposer.name, "replay")
      assert.strictEqual((yield* proposer.propose(context())).source, "replay:01")
    }).pipe(Effect.provide(ReplayProposer.layer(dir))))
})
