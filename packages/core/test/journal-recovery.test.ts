/**
 * What opening a journal after a crash or a power loss leaves: a last line cut short is
 * dropped, said so with its line number, and kept beside the journal; temporary files of
 * results.tsv from dead processes are removed, those of live ones left alone.
 */
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { openJournal, readJournal } from "../src/Journal.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"

const metric = { name: "val_mse", secondary: [] }

const entry = (id: number): JournalEntry => ({
  id,
  parent: null,
  commit: "0123456789abcdef0123456789abcdef01234567",
  status: "keep",
  metrics: { val_mse: 0.125 },
  reported: {},
  flags: [],
  description: `experiment ${id}`,
  hypothesis: "",
  seconds: { train: 1 },
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
  fingerprint: "abcdef0123456789",
  seed: 0,
  startedAt: "2025-01-01T00:00:00.000Z",
  finishedAt: "2025-01-01T00:01:00.000Z"
})

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-recovery-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const journalFile = () => path.join(dir, "journal.jsonl")
const line = (id: number) => JSON.stringify(entry(id)) + "\n"

/** The pid of a process that has surely exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!

describe("a journal whose last line was cut short", () => {
  it("readJournal says which line, and what was cut", () => {
    const cut = JSON.stringify(entry(2)).slice(0, 50)
    fs.writeFileSync(journalFile(), line(0) + line(1) + cut)
    const read = readJournal(journalFile())
    assert.deepStrictEqual(read.entries.map((e) => e.id), [0, 1])
    assert.strictEqual(read.cutShort?.line, 3)
    assert.strictEqual(Buffer.from(read.cutShort!.bytes).toString("utf8"), cut)
  })

  it.live("is dropped on open, reported with its line number, and kept in journal.jsonl.dropped-<line>", () =>
    Effect.gen(function*() {
      const cut = JSON.stringify(entry(2)).slice(0, 50)
      fs.writeFileSync(journalFile(), line(0) + line(1) + cut)
      const journal = yield* openJournal(dir, metric)
      assert.deepStrictEqual((yield* journal.entries).map((e) => e.id), [0, 1])
      assert.strictEqual(fs.readFileSync(journalFile(), "utf8"), line(0) + line(1))
      const copy = path.join(dir, "journal.jsonl.dropped-3")
      assert.strictEqual(fs.readFileSync(copy, "utf8"), cut)
      assert.strictEqual(journal.dropped.length, 1)
      assert.deepInclude(journal.dropped[0], { file: journalFile(), line: 3, bytes: Buffer.byteLength(cut), copy })
    }))

  it.live("a second cut at the same line does not overwrite the first copy", () =>
    Effect.gen(function*() {
      fs.writeFileSync(journalFile(), line(0) + "first cut")
      yield* openJournal(dir, metric)
      fs.appendFileSync(journalFile(), "second cut")
      const journal = yield* openJournal(dir, metric)
      assert.strictEqual(fs.readFileSync(path.join(dir, "journal.jsonl.dropped-2"), "utf8"), "first cut")
      assert.strictEqual(fs.readFileSync(journal.dropped[0]!.copy, "utf8"), "second cut")
      assert.notStrictEqual(journal.dropped[0]!.copy, path.join(dir, "journal.jsonl.dropped-2"))
    }))

  it.live("a journal without a cut drops nothing", () =>
    Effect.gen(function*() {
      fs.writeFileSync(journalFile(), line(0))
      const journal = yield* openJournal(dir, metric)
      assert.deepStrictEqual(journal.dropped, [])
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["journal.jsonl", "results.tsv"])
    }))

  it.live("counts valid bytes by bytes: a complete line with invalid UTF-8 is not shortened", () =>
    Effect.gen(function*() {
      // A description holding a lone 0xff byte decodes (as U+FFFD) but is longer in bytes once re-encoded.
      const text = Buffer.from(line(0).replace("experiment 0", "experiment \u0001"), "utf8")
      text[text.indexOf(1)] = 0xff
      fs.writeFileSync(journalFile(), Buffer.concat([text, Buffer.from("cut")]))
      const journal = yield* openJournal(dir, metric)
      assert.deepStrictEqual((yield* journal.entries).map((e) => e.id), [0])
      assert.deepStrictEqual(fs.readFileSync(journalFile()), text)
    }))
})

describe("temporary files of results.tsv", () => {
  it.live("those of dead processes are removed on open; those of live ones and other files are kept", () =>
    Effect.gen(function*() {
      const dead = path.join(dir, `results.tsv.${deadPid()}.tmp`)
      const live = path.join(dir, `results.tsv.${process.ppid}.tmp`)
      const other = path.join(dir, "results.tsv.notes.tmp")
      for (const file of [dead, live, other]) fs.writeFileSync(file, "half")
      yield* openJournal(dir, metric)
      assert.isFalse(fs.existsSync(dead))
      assert.isTrue(fs.existsSync(live))
      assert.isTrue(fs.existsSync(other))
    }))

  it.live("an append leaves no temporary file behind", () =>
    Effect.gen(function*() {
      const journal = yield* openJournal(dir, metric)
      yield* journal.append(entry(0))
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["journal.jsonl", "results.tsv"])
    }))
})
