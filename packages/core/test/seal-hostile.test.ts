/**
 * Sealing what a phase could have planted: a FIFO in the data cache must not hang the
 * seal, and a symbolic link is sealed as the link it is and what it names (a FIFO named
 * by a link is not opened either). The seal runs in
 * a child process with a time limit, so that a blocking open fails this test, not hangs it.
 */
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { sealOf } from "../src/Seal.ts"

const sha256 = (content: string) => createHash("sha256").update(content).digest("hex")

const sealModule = path.resolve(import.meta.dirname, "../src/Seal.ts")

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "seal-hostile-"))
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/** sealOf(dir, files, { cache }) in a child process, killed after 10 s. */
const sealInChild = (files: ReadonlyArray<string>) => {
  const script = `import { sealOf } from ${JSON.stringify(sealModule)}
process.stdout.write(JSON.stringify(sealOf(${JSON.stringify(dir)}, ${JSON.stringify(files)}, { cache: ${JSON.stringify(path.join(dir, "cache"))} })))`
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 })
  assert.isNull(child.signal, `the seal did not finish in 10 s (killed by ${child.signal})`)
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout) as Record<string, string>
}

describe("sealOf on hostile files", () => {
  it("seals a FIFO in a tree without opening it for a blocking read", () => {
    fs.mkdirSync(path.join(dir, "cache"))
    fs.writeFileSync(path.join(dir, "cache", "data.npy"), "data")
    execFileSync("mkfifo", [path.join(dir, "cache", "pipe")])
    const seal = sealInChild([])
    assert.strictEqual(seal["cache/pipe"], "not a regular file: a FIFO")
    assert.match(seal["cache/data.npy"]!, /^[0-9a-f]{64}$/)
  })

  it("seals a FIFO in place of an immutable file the same way", () => {
    fs.mkdirSync(path.join(dir, "cache"))
    execFileSync("mkfifo", [path.join(dir, "prepare.py")])
    assert.strictEqual(sealInChild(["prepare.py"])["prepare.py"], "not a regular file: a FIFO")
  })

  it("seals a symbolic link by where it points and what it points to", () => {
    fs.mkdirSync(path.join(dir, "cache"))
    fs.writeFileSync(path.join(dir, "data"), "d")
    fs.symlinkSync(path.join(dir, "data"), path.join(dir, "cache", "link"))
    const sealed = () => sealOf(dir, [], { cache: path.join(dir, "cache") })["cache/link"]
    assert.strictEqual(sealed(), `symbolic link to ${path.join(dir, "data")}: ${sha256("d")}`)
    fs.writeFileSync(path.join(dir, "data"), "changed")
    assert.strictEqual(sealed(), `symbolic link to ${path.join(dir, "data")}: ${sha256("changed")}`)
    fs.rmSync(path.join(dir, "cache", "link"))
    fs.symlinkSync(path.join(dir, "elsewhere"), path.join(dir, "cache", "link"))
    assert.strictEqual(sealed(), `symbolic link to ${path.join(dir, "elsewhere")}: missing`)
  })

  it("seals a link to a FIFO without opening the FIFO for a blocking read", () => {
    fs.mkdirSync(path.join(dir, "cache"))
    execFileSync("mkfifo", [path.join(dir, "pipe")])
    fs.symlinkSync(path.join(dir, "pipe"), path.join(dir, "cache", "link"))
    assert.strictEqual(sealInChild([])["cache/link"], `symbolic link to ${path.join(dir, "pipe")}: not a regular file: a FIFO`)
  })

  it("seals a dangling symbolic link as a link, not as missing", () => {
    fs.symlinkSync(path.join(dir, "gone"), path.join(dir, "prepare.py"))
    assert.strictEqual(sealOf(dir, ["prepare.py"])["prepare.py"], `symbolic link to ${path.join(dir, "gone")}: missing`)
  })
})
