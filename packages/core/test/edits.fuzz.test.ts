/**
 * Property-based tests of the edit applier: whatever a proposer sends (paths that climb
 * out, absolute or odd; search texts that occur never, once or many times; replacement
 * texts with `$` patterns), `applyEdits` returns a result, never throws, and a rejection
 * is an EditRejected that names the file and the reason. The seed is fixed (FUZZ_SEED
 * overrides it); fast-check prints the seed and path of a failure.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { applyEdits, EditRejected, normalisePath } from "../src/Edits.ts"
import type { Edit } from "../src/Proposal.ts"

const seed = Number(process.env.FUZZ_SEED ?? 1_203_571)

const mutable = ["train.py", "model/net.py", "a b.py"]
// A small alphabet, so that search texts often occur once, or more than once.
const text = fc.string({ unit: fc.constantFrom("a", "b", "\n", " ", "$&", "$1", "é", "\t", "\\"), maxLength: 40 })
const files = fc.uniqueArray(fc.constantFrom(...mutable), { minLength: 1, maxLength: 3 }).chain((paths) =>
  fc.tuple(...paths.map((file) => text.map((content) => [file, content] as const))).map((pairs) => new Map(pairs))
)
const editPath = fc.oneof(
  fc.constantFrom(...mutable),
  fc.constantFrom("./train.py", "model/../train.py", "model\\net.py", "../train.py", "/train.py", "train.py/", "", ".", "..", "prepare.py"),
  fc.string({ maxLength: 20 })
)
const edit = (contents: ReadonlyArray<string>): fc.Arbitrary<Edit> =>
  fc.record({
    path: editPath,
    // A piece of a file's content (found once or more), an empty search (the whole file), or anything.
    search: fc.oneof(
      contents.length === 0 ? fc.constant("") : fc.constantFrom(...contents).chain((content) =>
        fc.tuple(fc.nat(content.length), fc.nat(content.length)).map(([a, b]) => content.slice(Math.min(a, b), Math.max(a, b)))
      ),
      fc.constant(""),
      text
    ),
    replace: text
  })
const proposal = files.chain((current) => fc.tuple(fc.constant(current), fc.array(edit([...current.values()]), { maxLength: 5 })))

describe("applyEdits, fuzzed", () => {
  it("returns the changed mutable files or an EditRejected naming the file and the reason, and never throws", () => {
    fc.assert(
      fc.property(proposal, ([current, edits]) => {
        const result = applyEdits(current, edits)
        if (Result.isFailure(result)) {
          assert.instanceOf(result.failure, EditRejected)
          assert.isAbove(result.failure.path.length, 0)
          assert.isAbove(result.failure.reason.length, 0)
          return
        }
        assert.isAbove(result.success.size, 0)
        for (const [file, content] of result.success) {
          assert.isTrue(current.has(file), `${file} is not mutable`)
          assert.notStrictEqual(content, current.get(file))
        }
      }),
      { seed, numRuns: 3000 }
    )
  })

  it("applies one edit whose search occurs exactly once as a literal replacement", () => {
    fc.assert(
      fc.property(files, fc.nat(), fc.nat(), fc.nat(), text, (current, which, from, to, replace) => {
        const [file, content] = [...current][which % current.size]!
        const search = content.slice(Math.min(from, to) % (content.length + 1), Math.max(from, to) % (content.length + 1))
        fc.pre(search !== "" && content.indexOf(search) === content.lastIndexOf(search))
        const result = applyEdits(current, [{ path: `./${file}`, search, replace }])
        const expected = content.slice(0, content.indexOf(search)) + replace + content.slice(content.indexOf(search) + search.length)
        if (expected === content) return assert.isTrue(Result.isFailure(result))
        assert.deepStrictEqual(Result.isSuccess(result) ? [...result.success] : result.failure, [[normalisePath(file), expected]])
      }),
      { seed, numRuns: 1000 }
    )
  })
})
