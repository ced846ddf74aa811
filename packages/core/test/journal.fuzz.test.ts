/**
 * Property-based tests of the journal reader: a journal cut at any byte keeps exactly its
 * complete lines and returns the rest as cut short, with its line number; a garbled line
 * (any bytes) anywhere is either read or refused with a JournalError naming that line;
 * opening such a file either succeeds, leaving only complete lines and a copy of the cut,
 * or fails with a JournalError. Nothing else is ever thrown. The seed is fixed
 * (FUZZ_SEED overrides it).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { JournalError, openJournal, parseJournal } from "../src/Journal.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"

const seed = Number(process.env.FUZZ_SEED ?? 1_203_571)

const sha = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 40, maxLength: 40 })
const entry: fc.Arbitrary<JournalEntry> = fc.record({
  id: fc.nat(1000),
  parent: fc.option(sha, { nil: null }),
  commit: fc.option(sha, { nil: null }),
  status: fc.constantFrom("keep", "discard", "crash", "timeout", "oom", "invalid"),
  metrics: fc.dictionary(fc.constantFrom("val_psnr", "val_ssim"), fc.double({ noNaN: true, noDefaultInfinity: true })),
  reported: fc.constant({}),
  flags: fc.array(fc.constantFrom("metric-mismatch", "immutable-modified"), { maxLength: 2 }),
  description: fc.string({ unit: "grapheme", maxLength: 30 }),
  hypothesis: fc.string({ maxLength: 10 }),
  seconds: fc.constant({ train: 1.5 }),
  cost: fc.constant({ inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 }),
  fingerprint: fc.constant("abcdef0123456789"),
  seed: fc.nat(),
  startedAt: fc.constant("2025-01-01T00:00:00.000Z"),
  finishedAt: fc.constant("2025-01-01T00:01:00.000Z")
}) as fc.Arbitrary<JournalEntry>

const lineOf = (value: JournalEntry) => Buffer.from(JSON.stringify(value) + "\n", "utf8")

/** Parses, asserting that nothing but a JournalError is thrown; undefined when refused. */
const parsed = (bytes: Uint8Array) => {
  try {
    return parseJournal(bytes, "journal.jsonl")
  } catch (error) {
    assert.instanceOf(error, JournalError, String(error))
    assert.match((error as JournalError).reason, /^line \d+ is not a journal entry: /)
    return undefined
  }
}

let dir: string
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "journal-fuzz-"))
})
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("the journal reader, fuzzed", () => {
  it("keeps the complete lines of a journal cut at any byte, and returns the rest as cut short", () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 5 }), fc.nat(), (entries, at) => {
        const lines = entries.map(lineOf)
        const whole = Buffer.concat(lines)
        const cut = whole.subarray(0, at % (whole.length + 1))
        const read = parsed(cut)!
        let complete = 0
        for (let end = lines[0]!.length; complete < lines.length && end <= cut.length; end += lines[++complete]?.length ?? 0) {}
        assert.strictEqual(read.entries.length, complete)
        assert.deepStrictEqual(read.entries.map((e) => JSON.stringify(e)), entries.slice(0, complete).map((e) => JSON.stringify(e)))
        const validBytes = lines.slice(0, complete).reduce((sum, line) => sum + line.length, 0)
        assert.strictEqual(read.validBytes, validBytes)
        if (validBytes === cut.length) assert.isUndefined(read.cutShort)
        else {
          assert.strictEqual(read.cutShort?.line, complete + 1)
          assert.deepStrictEqual(Buffer.from(read.cutShort!.bytes), cut.subarray(validBytes))
        }
      }),
      { seed, numRuns: 800 }
    )
  })

  it("reads a garbled line or refuses it with a JournalError naming its line, and throws nothing else", () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 60 }),
      fc.string({ unit: "binary", maxLength: 60 }).map((text) => Buffer.from(text, "utf8")),
      fc.jsonValue({ maxDepth: 3 }).map((value) => Buffer.from(JSON.stringify(value) ?? "", "utf8")),
      fc.nat(20_000).map((depth) => Buffer.from("[".repeat(depth) + "]".repeat(depth)))
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), fc.nat(), garbage, fc.boolean(), (entries, where, junk, newline) => {
        const lines = entries.map(lineOf)
        const at = where % (lines.length + 1)
        const bytes = Buffer.concat([...lines.slice(0, at), junk, newline ? Buffer.from("\n") : Buffer.alloc(0), ...lines.slice(at)])
        parsed(bytes)
      }),
      { seed, numRuns: 1000 }
    )
  })

  it("opens any file as a journal or fails with a JournalError; what it keeps ends with a complete line", () => {
    let n = 0
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 3 }), fc.uint8Array({ maxLength: 80 }), (entries, tail) => {
        const stateDir = path.join(dir, String(n++))
        fs.mkdirSync(stateDir)
        const file = path.join(stateDir, "journal.jsonl")
        fs.writeFileSync(file, Buffer.concat([...entries.map(lineOf), tail]))
        const exit = Effect.runSyncExit(openJournal(stateDir, { name: "val_psnr" }))
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons[0]
          assert.isTrue(error?._tag === "Fail" && error.error instanceof JournalError, String(exit.cause))
          return
        }
        const kept = fs.readFileSync(file)
        assert.isTrue(kept.length === 0 || kept[kept.length - 1] === 0x0a)
        const dropped = exit.value.dropped
        const copies = dropped.map((d) => fs.readFileSync(d.copy))
        assert.deepStrictEqual(Buffer.concat([kept, ...copies]), Buffer.concat([...entries.map(lineOf), tail]))
      }),
      { seed, numRuns: 300 }
    )
  })
})
