import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { changedPaths, fingerprint, sealOf } from "../src/Seal.ts"

const sha256 = (content: string | Buffer) => createHash("sha256").update(content).digest("hex")

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "seal-test-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const write = (relative: string, content: string | Buffer) => {
  const full = path.join(dir, relative)
  fs.mkdirSync(path.dirname(full), { recursive: true })
  fs.writeFileSync(full, content)
}

describe("sealOf", () => {
  it("hashes each file with SHA-256, keyed by its path", () => {
    write("prepare.py", "print('prepare')\n")
    write("sub/score.py", "")
    const seal = sealOf(dir, ["prepare.py", "sub/score.py"])
    assert.deepStrictEqual(seal, {
      "prepare.py": sha256("print('prepare')\n"),
      "sub/score.py": sha256("")
    })
  })

  it("hashes a file larger than the read buffer in full", () => {
    const big = Buffer.alloc((1 << 20) * 2 + 123, 7)
    write("big.bin", big)
    const seal = sealOf(dir, ["big.bin"])
    assert.strictEqual(seal["big.bin"], sha256(big))
    big[big.length - 1] = 8
    write("big.bin", big)
    assert.strictEqual(sealOf(dir, ["big.bin"])["big.bin"], sha256(big))
  })

  it("seals an absent file as missing", () => {
    write("a.py", "a")
    assert.deepStrictEqual(sealOf(dir, ["a.py", "gone.py"]), { "a.py": sha256("a"), "gone.py": "missing" })
  })

  it("hashes every file below each tree, prefixed by its label", () => {
    write("cache/x.npy", "x")
    write("cache/deep/y.npy", "y")
    write("cache/deep/deeper/z.npy", "z")
    const seal = sealOf(dir, [], { data: path.join(dir, "cache") })
    assert.deepStrictEqual(seal, {
      "data/x.npy": sha256("x"),
      "data/deep/y.npy": sha256("y"),
      "data/deep/deeper/z.npy": sha256("z")
    })
  })

  it("seals a missing tree as `<label>/: missing` and an empty tree as nothing", () => {
    fs.mkdirSync(path.join(dir, "empty"))
    assert.deepStrictEqual(sealOf(dir, [], { data: path.join(dir, "nope") }), { "data/": "missing" })
    assert.deepStrictEqual(sealOf(dir, [], { data: path.join(dir, "empty") }), {})
  })

  it("combines files and several trees", () => {
    write("prepare.py", "p")
    write("c1/a", "1")
    write("c2/a", "2")
    const seal = sealOf(dir, ["prepare.py"], { one: path.join(dir, "c1"), two: path.join(dir, "c2") })
    assert.deepStrictEqual(Object.keys(seal).sort(), ["one/a", "prepare.py", "two/a"])
    assert.notStrictEqual(seal["one/a"], seal["two/a"])
  })
})

describe("changedPaths", () => {
  it("finds modified, added and removed paths, sorted", () => {
    const before = { "b.py": "1", "a.py": "2", "gone.py": "3", "same.py": "4" }
    const after = { "b.py": "1x", "a.py": "2", "same.py": "4", "new.py": "5" }
    assert.deepStrictEqual(changedPaths(before, after), ["b.py", "gone.py", "new.py"])
  })

  it("finds nothing between equal seals", () => {
    assert.deepStrictEqual(changedPaths({ a: "1", b: "2" }, { b: "2", a: "1" }), [])
    assert.deepStrictEqual(changedPaths({}, {}), [])
  })

  it("detects a real change on disk between two seals", () => {
    write("prepare.py", "one")
    write("cache/d.bin", "data")
    const trees = { data: path.join(dir, "cache") }
    const before = sealOf(dir, ["prepare.py", "score.py"], trees)
    write("prepare.py", "two")
    write("score.py", "now here")
    write("cache/extra.bin", "more")
    const after = sealOf(dir, ["prepare.py", "score.py"], trees)
    assert.deepStrictEqual(changedPaths(before, after), ["data/extra.bin", "prepare.py", "score.py"])
    fs.rmSync(path.join(dir, "cache"), { recursive: true })
    assert.deepStrictEqual(changedPaths(after, sealOf(dir, ["prepare.py", "score.py"], trees)), [
      "data/",
      "data/d.bin",
      "data/extra.bin"
    ])
  })
})

describe("fingerprint", () => {
  it("is a 16-character hex string, stable across calls", () => {
    const seal = { "a.py": "1", "data/x": "2" }
    const print = fingerprint(seal)
    assert.match(print, /^[0-9a-f]{16}$/)
    assert.strictEqual(fingerprint({ ...seal }), print)
  })

  it("does not depend on key order", () => {
    assert.strictEqual(fingerprint({ a: "1", b: "2", c: "3" }), fingerprint({ c: "3", a: "1", b: "2" }))
  })

  it("changes when a hash, a key or the set of keys changes", () => {
    const base = fingerprint({ a: "1", b: "2" })
    assert.notStrictEqual(fingerprint({ a: "1", b: "3" }), base)
    assert.notStrictEqual(fingerprint({ a: "1", c: "2" }), base)
    assert.notStrictEqual(fingerprint({ a: "1" }), base)
    assert.notStrictEqual(fingerprint({ a: "2", b: "1" }), base)
  })

  it("follows the sealed files on disk", () => {
    write("cache/x", "x")
    const trees = { data: path.join(dir, "cache") }
    const first = fingerprint(sealOf(dir, [], trees))
    assert.strictEqual(fingerprint(sealOf(dir, [], trees)), first)
    write("cache/x", "y")
    assert.notStrictEqual(fingerprint(sealOf(dir, [], trees)), first)
  })
})
