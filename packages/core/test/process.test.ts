import { spawnSync } from "node:child_process"
import { assert, describe, it } from "vitest"
import * as Process from "../src/Process.ts"

describe("Process", () => {
  it("splits a stat line after the last parenthesis, whatever the command's name holds", () => {
    const fields = Process.statFields("17 (a) b (c)) Z 1 17 17 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0")
    assert.strictEqual(fields?.[0], "Z")
    assert.strictEqual(fields?.[2], "17")
    assert.strictEqual(fields?.[19], "98765")
    assert.isUndefined(Process.statFields("garbage"))
  })

  it("tells a live process from one that has exited", () => {
    assert.isTrue(Process.isAlive(process.pid))
    const exited = spawnSync(process.execPath, ["-e", ""]).pid!
    assert.isFalse(Process.isAlive(exited))
  })

  it.runIf(process.platform === "linux")("gives a process's start time, the same each time", () => {
    const start = Process.startTime(process.pid)
    assert.match(start ?? "", /^\d+$/)
    assert.strictEqual(Process.startTime(process.pid), start)
  })
})
