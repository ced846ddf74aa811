import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bestEntry, Journal, JournalError, openJournal, readJournal, resultsTsv } from "../src/Journal.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"

const metric = { name: "val_mse", secondary: ["val_ssim"] }

const entry = (id: number, overrides: Partial<JournalEntry> = {}): JournalEntry => ({
  id,
  parent: null,
  commit: "0123456789abcdef0123456789abcdef01234567",
  status: "keep",
  metrics: { val_mse: 0.125, val_ssim: 0.9 },
  reported: { val_mse: 0.125 },
  flags: [],
  description: `experiment ${id}`,
  hypothesis: "it helps",
  seconds: { train: 60 },
  cost: { inputTokens: 10, outputTokens: 5, cachedTokens: 0, usd: 0.01 },
  fingerprint: "abcdef0123456789",
  seed: 0,
  startedAt: "2025-01-01T00:00:00.000Z",
  finishedAt: "2025-01-01T00:01:00.000Z",
  ...overrides
})

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-test-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const journalFile = () => path.join(dir, "journal.jsonl")
const tsvFile = () => path.join(dir, "results.tsv")
const read = (file: string) => fs.readFileSync(file, "utf8")

describe("resultsTsv", () => {
  it("writes the header and one row per entry in the original columns", () => {
    const tsv = resultsTsv(
      [
        entry(0, { memoryGb: 12.345 }),
        entry(1, { commit: null, status: "crash", metrics: {}, description: "a\tb\nc\r\nd" }),
        entry(2, { metrics: { val_mse: 2 } })
      ],
      metric
    )
    assert.strictEqual(
      tsv,
      [
        "commit\tval_mse\tval_ssim\tmemory_gb\tstatus\tdescription",
        "0123456\t0.125000\t0.900000\t12.3\tkeep\texperiment 0",
        "-\t\t\t\tcrash\ta b c d",
        "0123456\t2\t\t\tkeep\texperiment 2"
      ].join("\n") + "\n"
    )
  })

  it("writes only the header for no entries, and no secondary columns when none are set", () => {
    assert.strictEqual(resultsTsv([], { name: "val_psnr" }), "commit\tval_psnr\tmemory_gb\tstatus\tdescription\n")
  })
})

describe("readJournal", () => {
  it("reads nothing from a missing file", () => {
    assert.deepStrictEqual(readJournal(journalFile()), { entries: [], validBytes: 0 })
  })

  it("ignores a trailing line without its newline and counts valid bytes", () => {
    const first = JSON.stringify(entry(0, { description: "é ünïcode" })) + "\n"
    fs.writeFileSync(journalFile(), first + "{\"id\": 1, \"par")
    const { entries, validBytes } = readJournal(journalFile())
    assert.strictEqual(entries.length, 1)
    assert.strictEqual(entries[0]!.description, "é ünïcode")
    assert.strictEqual(validBytes, Buffer.byteLength(first))
  })

  it("throws a JournalError naming the file and the line of a corrupt entry", () => {
    fs.writeFileSync(journalFile(), JSON.stringify(entry(0)) + "\nnot json\n")
    try {
      readJournal(journalFile())
      assert.fail("expected a JournalError")
    } catch (error) {
      assert.instanceOf(error, JournalError)
      assert.strictEqual((error as JournalError).file, journalFile())
      assert.include((error as JournalError).reason, "line 2 is not a journal entry")
    }
  })

  it("numbers a corrupt line by its place in the file, blank lines included", () => {
    fs.writeFileSync(journalFile(), JSON.stringify(entry(0)) + "\n\n\nnot json\n")
    try {
      readJournal(journalFile())
      assert.fail("expected a JournalError")
    } catch (error) {
      assert.include((error as JournalError).reason, "line 4 ")
    }
  })
})

describe("Journal service", () => {
  it.live("creates the directory and an empty results.tsv on open", () =>
    Effect.gen(function*() {
      const nested = path.join(dir, "a", "b")
      const journal = yield* openJournal(nested, metric)
      assert.strictEqual(journal.dir, nested)
      assert.deepStrictEqual(yield* journal.entries, [])
      assert.strictEqual(read(path.join(nested, "results.tsv")), "commit\tval_mse\tval_ssim\tmemory_gb\tstatus\tdescription\n")
      assert.isFalse(fs.existsSync(path.join(nested, "journal.jsonl")))
    }))

  it.live("append writes one JSON line and rewrites results.tsv", () =>
    Effect.gen(function*() {
      const journal = yield* openJournal(dir, metric)
      const first = entry(0, { memoryGb: 3.21, description: "baseline\twith tab" })
      yield* journal.append(first)
      const lines = read(journalFile()).split("\n")
      assert.strictEqual(lines.length, 2)
      assert.strictEqual(lines[1], "")
      assert.deepStrictEqual(JSON.parse(lines[0]!), first)
      assert.strictEqual(
        read(tsvFile()),
        "commit\tval_mse\tval_ssim\tmemory_gb\tstatus\tdescription\n0123456\t0.125000\t0.900000\t3.2\tkeep\tbaseline with tab\n"
      )

      yield* journal.append(entry(1, { status: "discard", metrics: { val_mse: 0.5 }, description: "second" }))
      assert.strictEqual(read(journalFile()).split("\n").filter(Boolean).length, 2)
      const rows = read(tsvFile()).trimEnd().split("\n")
      assert.strictEqual(rows.length, 3)
      assert.strictEqual(rows[2], "0123456\t0.500000\t\t\tdiscard\tsecond")
      assert.deepStrictEqual((yield* journal.entries).map((e) => e.id), [0, 1])
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["journal.jsonl", "results.tsv"])
    }))

  it.live("reads the entries back when reopened", () =>
    Effect.gen(function*() {
      const journal = yield* openJournal(dir, metric)
      const written = [entry(0), entry(1, { status: "crash", reason: "boom", source: "replay:01", confirmations: [1, 2] })]
      for (const e of written) yield* journal.append(e)
      const reopened = yield* openJournal(dir, metric)
      assert.deepStrictEqual(yield* reopened.entries, written)
      assert.strictEqual(read(tsvFile()).trimEnd().split("\n").length, 3)
    }))

  it.live("returns a copy of its entries", () =>
    Effect.gen(function*() {
      const journal = yield* openJournal(dir, metric)
      yield* journal.append(entry(0))
      const entries = (yield* journal.entries) as Array<JournalEntry>
      entries.pop()
      assert.strictEqual((yield* journal.entries).length, 1)
    }))

  it.live("drops a truncated last line on open and truncates the file", () =>
    Effect.gen(function*() {
      const complete = JSON.stringify(entry(0)) + "\n"
      fs.writeFileSync(journalFile(), complete + JSON.stringify(entry(1)).slice(0, 40))
      const journal = yield* openJournal(dir, metric)
      assert.deepStrictEqual((yield* journal.entries).map((e) => e.id), [0])
      assert.strictEqual(read(journalFile()), complete)
      yield* journal.append(entry(2))
      const reopened = yield* openJournal(dir, metric)
      assert.deepStrictEqual((yield* reopened.entries).map((e) => e.id), [0, 2])
    }))

  it.live("fails with a JournalError naming the file and line of a corrupt complete line", () =>
    Effect.gen(function*() {
      fs.writeFileSync(journalFile(), JSON.stringify(entry(0)) + "\n" + JSON.stringify({ id: "x" }) + "\n")
      const error = yield* Effect.flip(openJournal(dir, metric))
      assert.instanceOf(error, JournalError)
      assert.strictEqual(error.file, journalFile())
      assert.include(error.reason, "line 2")
      assert.include(error.message, journalFile())
    }))

  it.live("append fails with a JournalError for an entry that does not encode", () =>
    Effect.gen(function*() {
      const journal = yield* openJournal(dir, metric)
      const error = yield* Effect.flip(journal.append({ ...entry(0), id: 1.5 }))
      assert.instanceOf(error, JournalError)
      assert.strictEqual(error.file, journalFile())
      assert.isFalse(fs.existsSync(journalFile()) && read(journalFile()).length > 0)
    }))

  it.live("is provided as a layer", () =>
    Effect.gen(function*() {
      const journal = yield* Journal
      yield* journal.append(entry(0))
      assert.strictEqual(journal.dir, dir)
      assert.strictEqual(readJournal(journalFile()).entries.length, 1)
    }).pipe(Effect.provide(Journal.layer(dir, metric))))
})

describe("bestEntry", () => {
  it("is the kept entry with the best metric in its direction, ignoring discards", () => {
    const entries = [
      entry(0, { status: "keep", metrics: { val_mse: 0.5 } }),
      entry(1, { status: "discard", metrics: { val_mse: 0.1 } }),
      entry(2, { status: "keep", metrics: { val_mse: 0.3 } }),
      entry(3, { status: "crash", metrics: {} })
    ]
    assert.strictEqual(bestEntry(entries, { name: "val_mse", direction: "min" })?.id, 2)
    assert.strictEqual(bestEntry(entries, { name: "val_mse", direction: "max" })?.id, 0)
    assert.strictEqual(bestEntry([entries[1]!], { name: "val_mse", direction: "min" }), undefined)
  })
})
