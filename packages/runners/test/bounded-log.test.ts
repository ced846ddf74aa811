import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { BoundedLog } from "../src/BoundedLog.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const logFile = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bounded-log-"))
  dirs.push(dir)
  return path.join(dir, "train.log")
}

const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line ${from + i}\n`).join("")

describe("BoundedLog", () => {
  it("keeps everything when the output fits", () => {
    const log = new BoundedLog(logFile(), { headBytes: 100, tailBytes: 100 })
    log.write(Buffer.from(lines(0, 10)))
    log.write(Buffer.from(lines(10, 20)))
    const summary = log.close()
    assert.strictEqual(fs.readFileSync(log.path, "utf8"), lines(0, 20))
    assert.deepStrictEqual(summary, { path: log.path, bytes: lines(0, 20).length, dropped: 0, replaced: false })
  })

  it("keeps the head and the tail, from a line boundary, and says how much it dropped", () => {
    const log = new BoundedLog(logFile(), { headBytes: 64, tailBytes: 64 })
    const text = lines(0, 1000)
    for (let i = 0; i < text.length; i += 37) log.write(Buffer.from(text.slice(i, i + 37)))
    const summary = log.close()
    const written = fs.readFileSync(log.path, "utf8")
    const [head, rest] = written.split("\n[autoresearch: ")
    assert.strictEqual(head, text.slice(0, 64))
    const [notice, tail] = rest!.split("]\n")
    assert.match(notice!, /^\d+ bytes of output dropped here; the log keeps the first 64 and the last \d+ bytes$/)
    assert.isTrue(text.endsWith(tail!))
    assert.match(tail!, /^line \d+\n/)
    assert.strictEqual(summary.bytes, text.length)
    assert.strictEqual(summary.dropped, text.length - 64 - tail!.length)
    assert.strictEqual(Number(notice!.split(" ")[0]), summary.dropped)
  })

  it("keeps the last lines in memory whatever was written to the file", () => {
    const log = new BoundedLog(logFile(), { headBytes: 1 << 20, tailBytes: 256 })
    log.write(Buffer.from(lines(0, 500)))
    assert.strictEqual(log.lastLines(3), "line 497\nline 498\nline 499\n")
    log.write(Buffer.from("partial"))
    assert.strictEqual(log.lastLines(2), "line 499\npartial")
    log.close()
  })

  it("takes a chunk larger than its ring", () => {
    const log = new BoundedLog(logFile(), { headBytes: 10, tailBytes: 20 })
    log.write(Buffer.from("0123456789" + "a".repeat(1000) + "\nthe end\n"))
    const summary = log.close()
    const written = fs.readFileSync(log.path, "utf8")
    assert.isTrue(written.startsWith("0123456789\n[autoresearch: "))
    assert.isTrue(written.endsWith("]\nthe end\n"))
    assert.strictEqual(summary.dropped, 1001)
  })

  it("removes a symbolic link planted at its path instead of writing through it", () => {
    const file = logFile()
    const victim = path.join(path.dirname(file), "victim.txt")
    fs.writeFileSync(victim, "the user's file\n")
    fs.symlinkSync(victim, file)
    const log = new BoundedLog(file)
    log.write(Buffer.from("predict output\n"))
    log.close()
    assert.strictEqual(fs.readFileSync(victim, "utf8"), "the user's file\n")
    assert.isTrue(fs.lstatSync(file).isFile())
    assert.strictEqual(fs.readFileSync(file, "utf8"), "predict output\n")
  })

  it("puts itself back when the phase replaced it by a FIFO or a link while it ran", () => {
    for (const plant of ["fifo", "symlink"] as const) {
      const file = logFile()
      const log = new BoundedLog(file, { headBytes: 8, tailBytes: 16 })
      log.write(Buffer.from("the head and then the tail\n"))
      fs.rmSync(file)
      if (plant === "fifo") execFileSync("mkfifo", [file])
      else fs.symlinkSync("/etc/hostname", file)
      const summary = log.close()
      assert.isTrue(summary.replaced, plant)
      assert.isTrue(fs.lstatSync(file).isFile(), plant)
      const text = fs.readFileSync(file, "utf8")
      assert.isTrue(text.startsWith("the head"), plant)
      assert.isTrue(text.endsWith("then the tail\n"), plant)
    }
  })

  it("closes once", () => {
    const log = new BoundedLog(logFile())
    log.write(Buffer.from("x\n"))
    const first = log.close()
    log.write(Buffer.from("ignored\n"))
    assert.strictEqual(log.close(), first)
    assert.strictEqual(fs.readFileSync(log.path, "utf8"), "x\n")
  })
})
