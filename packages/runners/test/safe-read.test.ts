import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { readMetrics } from "../src/MetricsFile.ts"
import { readRegularFile } from "@autoresearch/core"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const scratch = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "safe-read-"))
  dirs.push(dir)
  return dir
}

describe("readRegularFile", () => {
  it("reads a regular file, up to the bytes it is given", () => {
    const file = path.join(scratch(), "metrics.json")
    fs.writeFileSync(file, "0123456789")
    assert.deepStrictEqual(readRegularFile(file, 100), { _tag: "Text", text: "0123456789", size: 10, truncated: false })
    assert.deepStrictEqual(readRegularFile(file, 4), { _tag: "Text", text: "0123", size: 10, truncated: true })
    assert.deepStrictEqual(readRegularFile(path.join(path.dirname(file), "absent"), 100), { _tag: "Missing" })
  })

  it("refuses a FIFO without waiting for a writer, a symbolic link, a directory and a socket", () => {
    const dir = scratch()
    const fifo = path.join(dir, "fifo")
    execFileSync("mkfifo", [fifo])
    const target = path.join(dir, "secret")
    fs.writeFileSync(target, "a secret")
    const link = path.join(dir, "link")
    fs.symlinkSync(target, link)
    const linkToFifo = path.join(dir, "link-to-fifo")
    fs.symlinkSync(fifo, linkToFifo)
    const started = Date.now()
    const reasons = [fifo, link, linkToFifo, dir].map((file) => readRegularFile(file, 100))
    assert.isBelow(Date.now() - started, 1000)
    assert.deepStrictEqual(reasons.map((read) => read._tag === "Refused" ? read.reason : read._tag), [
      `${fifo} is a FIFO, not a regular file`,
      `${link} is a symbolic link, not a regular file`,
      `${linkToFifo} is a symbolic link, not a regular file`,
      `${dir} is a directory, not a regular file`
    ])
  })
})

describe("readMetrics", () => {
  it("does not follow a symbolic link to another file's numbers, and says why", () => {
    const dir = scratch()
    const elsewhere = path.join(dir, "elsewhere.json")
    fs.writeFileSync(elsewhere, '{"peak_vram_gb": 3}')
    const file = path.join(dir, "metrics.json")
    fs.symlinkSync(elsewhere, file)
    assert.deepStrictEqual(readMetrics(file), { metrics: {}, refused: `${file} is a symbolic link, not a regular file` })
    fs.rmSync(file)
    fs.copyFileSync(elsewhere, file)
    assert.deepStrictEqual(readMetrics(file), { metrics: { peak_vram_gb: 3 } })
  })
})
