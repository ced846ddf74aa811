import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { applyEdits, EditRejected } from "../src/Edits.ts"
import type { Edit } from "../src/Proposal.ts"

const files = (entries: Record<string, string>): ReadonlyMap<string, string> => new Map(Object.entries(entries))

const succeed = (input: ReadonlyMap<string, string>, edits: ReadonlyArray<Edit>): Map<string, string> => {
  const result = applyEdits(input, edits)
  if (Result.isFailure(result)) assert.fail(`expected success, got ${result.failure.message}`)
  return result.success
}

const reject = (input: ReadonlyMap<string, string>, edits: ReadonlyArray<Edit>): EditRejected => {
  const result = applyEdits(input, edits)
  if (Result.isSuccess(result)) assert.fail(`expected a rejection, got ${JSON.stringify([...result.success])}`)
  assert.instanceOf(result.failure, EditRejected)
  return result.failure
}

const train = "lr = 0.01\nepochs = 10\nprint(lr)\n"

describe("applyEdits", () => {
  it("replaces a search text that occurs exactly once", () => {
    const changed = succeed(files({ "train.py": train }), [{ path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" }])
    assert.deepStrictEqual([...changed], [["train.py", "lr = 0.02\nepochs = 10\nprint(lr)\n"]])
  })

  it("returns only the files the edits touched", () => {
    const changed = succeed(files({ "train.py": train, "model.py": "layers = 2\n" }), [
      { path: "model.py", search: "layers = 2", replace: "layers = 3" }
    ])
    assert.deepStrictEqual([...changed.keys()], ["model.py"])
    assert.strictEqual(changed.get("model.py"), "layers = 3\n")
  })

  it("does not mutate the input map", () => {
    const input = files({ "train.py": train })
    succeed(input, [{ path: "train.py", search: "epochs = 10", replace: "epochs = 20" }])
    assert.strictEqual(input.get("train.py"), train)
  })

  it("rejects a search text that is not found, naming the file and the reason", () => {
    const error = reject(files({ "train.py": train }), [{ path: "train.py", search: "lr = 0.1", replace: "lr = 0.2" }])
    assert.strictEqual(error.path, "train.py")
    assert.include(error.reason, "search text not found")
    assert.include(error.message, "train.py: search text not found")
  })

  it("rejects whitespace differences as not found", () => {
    const error = reject(files({ "train.py": train }), [{ path: "train.py", search: "lr=0.01", replace: "lr=0.02" }])
    assert.include(error.reason, "not found")
  })

  it("rejects a search text that occurs more than once, with the count", () => {
    const error = reject(files({ "train.py": "x = 1\nx = 1\nx = 1\n" }), [{ path: "train.py", search: "x = 1", replace: "x = 2" }])
    assert.strictEqual(error.path, "train.py")
    assert.strictEqual(error.reason, "search text occurs 3 times; it must occur exactly once")
  })

  it("counts overlapping occurrences as ambiguous", () => {
    const error = reject(files({ "train.py": "aaa" }), [{ path: "train.py", search: "aa", replace: "b" }])
    assert.include(error.reason, "occurs 2 times")
  })

  it("replaces the whole file when the search text is empty", () => {
    const changed = succeed(files({ "train.py": train }), [{ path: "train.py", search: "", replace: "print('new')\n" }])
    assert.strictEqual(changed.get("train.py"), "print('new')\n")
  })

  it("fills an empty mutable file with a whole-file edit", () => {
    const changed = succeed(files({ "train.py": "" }), [{ path: "train.py", search: "", replace: "x = 1\n" }])
    assert.strictEqual(changed.get("train.py"), "x = 1\n")
  })

  it("rejects an edit to a file that is not mutable, listing the mutable files", () => {
    const error = reject(files({ "train.py": train, "model.py": "" }), [{ path: "prepare.py", search: "", replace: "evil" }])
    assert.strictEqual(error.path, "prepare.py")
    assert.include(error.reason, "not a mutable file")
    assert.include(error.reason, "train.py, model.py")
  })

  it("rejects a path that escapes the research directory", () => {
    const error = reject(files({ "train.py": train }), [{ path: "../x", search: "", replace: "evil" }])
    assert.strictEqual(error.path, "../x")
    assert.include(error.reason, "not a mutable file")
  })

  it("rejects a path that climbs out and back in to a mutable name elsewhere", () => {
    const error = reject(files({ "train.py": train }), [{ path: "../other/train.py", search: "", replace: "evil" }])
    assert.include(error.reason, "not a mutable file")
  })

  it("rejects an absolute path", () => {
    const error = reject(files({ "train.py": train }), [{ path: "/train.py", search: "", replace: "evil" }])
    assert.include(error.reason, "not a mutable file")
  })

  it("normalises ./train.py, sub/../train.py and backslashes to the mutable path", () => {
    for (const path of ["./train.py", "sub/../train.py", ".\\train.py"]) {
      const changed = succeed(files({ "train.py": train }), [{ path, search: "lr = 0.01", replace: "lr = 0.5" }])
      assert.deepStrictEqual([...changed.keys()], ["train.py"], path)
      assert.include(changed.get("train.py")!, "lr = 0.5")
    }
    const nested = succeed(files({ "src/model.py": "a = 1\n" }), [{ path: "src\\model.py", search: "a = 1", replace: "a = 2" }])
    assert.strictEqual(nested.get("src/model.py"), "a = 2\n")
  })

  it("applies sequential edits to the same file on top of each other", () => {
    const changed = succeed(files({ "train.py": train }), [
      { path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" },
      { path: "train.py", search: "lr = 0.02\nepochs = 10", replace: "lr = 0.02\nepochs = 20" },
      { path: "./train.py", search: "print(lr)", replace: "print(lr, epochs)" }
    ])
    assert.strictEqual(changed.get("train.py"), "lr = 0.02\nepochs = 20\nprint(lr, epochs)\n")
  })

  it("matches a later edit against the result of a whole-file replace", () => {
    const changed = succeed(files({ "train.py": train }), [
      { path: "train.py", search: "", replace: "a = 1\n" },
      { path: "train.py", search: "a = 1", replace: "a = 2" }
    ])
    assert.strictEqual(changed.get("train.py"), "a = 2\n")
  })

  it("fails a later edit whose search text only existed before an earlier edit", () => {
    const error = reject(files({ "train.py": train }), [
      { path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" },
      { path: "train.py", search: "lr = 0.01", replace: "lr = 0.03" }
    ])
    assert.include(error.reason, "not found")
  })

  it("returns the first failure even when a later edit is also bad", () => {
    const error = reject(files({ "train.py": train }), [
      { path: "train.py", search: "missing", replace: "x" },
      { path: "prepare.py", search: "", replace: "x" }
    ])
    assert.strictEqual(error.path, "train.py")
    assert.include(error.reason, "not found")
  })

  it("rejects a proposal with no edits", () => {
    const error = reject(files({ "train.py": train }), [])
    assert.strictEqual(error.path, "(none)")
    assert.strictEqual(error.reason, "the proposal has no edits")
  })

  it("rejects edits that leave every file unchanged", () => {
    const same = reject(files({ "train.py": train }), [{ path: "train.py", search: "lr = 0.01", replace: "lr = 0.01" }])
    assert.strictEqual(same.path, "(all)")
    assert.strictEqual(same.reason, "the edits leave every file unchanged")
    const wholeSame = reject(files({ "train.py": train }), [{ path: "train.py", search: "", replace: train }])
    assert.strictEqual(wholeSame.path, "(all)")
  })

  it("rejects edits that change a file and change it back", () => {
    const error = reject(files({ "train.py": train }), [
      { path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" },
      { path: "train.py", search: "lr = 0.02", replace: "lr = 0.01" }
    ])
    assert.strictEqual(error.path, "(all)")
  })

  it("drops an unchanged file but keeps the changed one", () => {
    const changed = succeed(files({ "train.py": train, "model.py": "m = 1\n" }), [
      { path: "model.py", search: "m = 1", replace: "m = 1" },
      { path: "train.py", search: "epochs = 10", replace: "epochs = 11" }
    ])
    assert.deepStrictEqual([...changed.keys()], ["train.py"])
  })

  it("inserts replacement text containing $ patterns literally", () => {
    const replace = "s = '$& $1 $$ $` $\\''"
    const changed = succeed(files({ "train.py": train }), [{ path: "train.py", search: "print(lr)", replace }])
    assert.strictEqual(changed.get("train.py"), `lr = 0.01\nepochs = 10\n${replace}\n`)
  })

  it("treats regex metacharacters in the search text literally", () => {
    const changed = succeed(files({ "train.py": "x = a.*b + (c)\n" }), [{ path: "train.py", search: "a.*b + (c)", replace: "d" }])
    assert.strictEqual(changed.get("train.py"), "x = d\n")
  })
})
