/**
 * seal.json after a power loss: rebuilt where nothing it sealed can have changed (no
 * experiment recorded yet, or git shows the immutable files as they were at the baseline
 * commit), and otherwise refused with the file named and the fix.
 */
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Journal, openJournal } from "../src/Journal.ts"
import type { JournalEntry } from "../src/JournalEntry.ts"
import { sealOf } from "../src/Seal.ts"
import { check, readSealFile, SealFileError } from "../src/SealFile.ts"

let base: string
let research: string
let stateDir: string
beforeEach(() => {
  base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "seal-file-")))
  research = path.join(base, "repo", "research")
  stateDir = path.join(base, "state")
  fs.mkdirSync(research, { recursive: true })
  fs.mkdirSync(stateDir)
  fs.writeFileSync(path.join(research, "prepare.py"), "print('prepare')\n")
  git("init", "-q", "-b", "main")
  commit("research")
})
afterEach(() => {
  fs.rmSync(base, { recursive: true, force: true })
})

const git = (...args: Array<string>) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", ...args], { cwd: research, encoding: "utf8" }).trim()
const commit = (message: string) => {
  git("add", "-A")
  git("commit", "-qm", message)
  return git("rev-parse", "HEAD")
}

const sealFile = () => path.join(stateDir, "seal.json")
const immutable = ["prepare.py"]
const current = () => sealOf(research, immutable)

const baselineEntry = (commit: string | null): JournalEntry => ({
  id: 0,
  parent: null,
  commit,
  status: "keep",
  metrics: {},
  reported: {},
  flags: [],
  description: "baseline",
  hypothesis: "",
  seconds: {},
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
  fingerprint: "abcdef0123456789",
  seed: 0,
  startedAt: "2025-01-01T00:00:00.000Z",
  finishedAt: "2025-01-01T00:01:00.000Z"
})

/** Runs `check` with a journal whose baseline is `baseline` (none when undefined). */
const checkWith = (options: { readonly resumed: boolean; readonly baseline?: string | null }) =>
  Effect.gen(function*() {
    const journal = yield* openJournal(stateDir, { name: "m" })
    if (options.baseline !== undefined) yield* journal.append(baselineEntry(options.baseline))
    return yield* check(sealFile(), current(), { resumed: options.resumed, workdir: research, immutable }).pipe(
      Effect.provide(Layer.succeed(Journal, journal))
    )
  })

describe("SealFile.check", () => {
  it.live("records the seal at the first start, then compares with it", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* checkWith({ resumed: false }), { changed: [] })
      assert.deepStrictEqual(readSealFile(sealFile()), { _tag: "Sealed", seal: current() })
      fs.writeFileSync(path.join(research, "prepare.py"), "changed\n")
      assert.deepStrictEqual((yield* checkWith({ resumed: true })).changed, ["prepare.py"])
    }))

  it.live("rebuilds an empty seal.json when no experiment was recorded yet", () =>
    Effect.gen(function*() {
      fs.writeFileSync(sealFile(), "")
      const result = yield* checkWith({ resumed: false })
      assert.deepStrictEqual(result.changed, [])
      assert.strictEqual(result.rebuilt, `${sealFile()} is empty; rebuilt (no experiment was recorded yet)`)
      assert.deepStrictEqual(readSealFile(sealFile()), { _tag: "Sealed", seal: current() })
    }))

  it.live("rebuilds a cut-short seal.json on resume when git shows the immutable files unchanged since the baseline", () =>
    Effect.gen(function*() {
      const baseline = git("rev-parse", "HEAD")
      fs.writeFileSync(path.join(research, "train.py"), "a later, kept change to a mutable file\n")
      commit("experiment 1")
      fs.writeFileSync(sealFile(), "{\n  \"prepare.py\": \"12")
      const result = yield* checkWith({ resumed: true, baseline })
      assert.deepStrictEqual(result.changed, [])
      assert.match(result.rebuilt!, /seal\.json is cut short or not a seal .*; rebuilt from the immutable files, which git shows unchanged since the baseline commit [0-9a-f]{7}$/)
      assert.deepStrictEqual(readSealFile(sealFile()), { _tag: "Sealed", seal: current() })
    }))

  it.live("refuses, naming the file, what changed and the fix, when an immutable file changed since the baseline", () =>
    Effect.gen(function*() {
      const baseline = git("rev-parse", "HEAD")
      fs.writeFileSync(path.join(research, "prepare.py"), "print('changed')\n")
      commit("edit prepare.py")
      fs.writeFileSync(sealFile(), "")
      const error = yield* Effect.flip(checkWith({ resumed: true, baseline }))
      assert.instanceOf(error, SealFileError)
      assert.strictEqual(error.file, sealFile())
      assert.strictEqual(
        error.message,
        `${sealFile()} is empty and cannot be rebuilt safely: prepare.py changed since the baseline commit ${baseline.slice(0, 7)} ` +
          `(restore them with \`git checkout ${baseline.slice(0, 7)} -- FILES\` in the worktree, or start a new --tag)`
      )
      assert.strictEqual(fs.readFileSync(sealFile(), "utf8"), "")
    }))

  it.live("refuses where the journal has no baseline commit, or git does not know it", () =>
    Effect.gen(function*() {
      fs.writeFileSync(sealFile(), "")
      const none = yield* Effect.flip(checkWith({ resumed: true, baseline: null }))
      assert.include(none.message, "is empty and cannot be rebuilt safely: the journal records no baseline commit to compare with (start a new --tag)")
      fs.rmSync(path.join(stateDir, "journal.jsonl"))
      const unknown = yield* Effect.flip(checkWith({ resumed: true, baseline: "0".repeat(40) }))
      assert.include(unknown.message, "cannot be rebuilt safely: git could not compare with the baseline commit 0000000")
    }))
})
