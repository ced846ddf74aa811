import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { startTime } from "../src/Process.ts"
import * as RunLock from "../src/RunLock.ts"

const probe = (alive: Record<number, string>, boot = "boot-a"): RunLock.LockProbe => ({
  isAlive: (pid) => pid in alive,
  startTime: (pid) => alive[pid],
  boot
})

describe("RunLock.parseLock", () => {
  it("reads a lock with start time and boot, and an older one with only a PID", () => {
    assert.deepStrictEqual(RunLock.parseLock(`{"pid":42,"start":"777","boot":"b"}\n`), { pid: 42, start: "777", boot: "b" })
    assert.deepStrictEqual(RunLock.parseLock("4242\n"), { pid: 4242 })
    for (const bad of ["", "0", "-3", "x", "{\"pid\":\"7\"}", "null"]) assert.isUndefined(RunLock.parseLock(bad), bad)
  })
})

describe("RunLock.isHeld", () => {
  it("holds only while the same process, from the same boot, is alive", () => {
    const owner = { pid: 42, start: "777", boot: "boot-a" }
    assert.isTrue(RunLock.isHeld(owner, probe({ 42: "777" })))
    assert.isFalse(RunLock.isHeld(owner, probe({})), "gone")
    assert.isFalse(RunLock.isHeld(owner, probe({ 42: "999" })), "another process with the same PID")
    assert.isFalse(RunLock.isHeld(owner, probe({ 42: "777" }, "boot-b")), "a PID from before a reboot")
    // An older lock names a PID only: a live process with it holds it.
    assert.isTrue(RunLock.isHeld({ pid: 42 }, probe({ 42: "5" })))
    assert.isFalse(RunLock.isHeld({ pid: 42 }, probe({})))
  })
})

describe("RunLock.acquire", () => {
  const errors = { busy: (pid: number) => `busy ${pid}`, failed: (reason: string) => reason }
  const withSleep = async <A>(use: (pid: number) => Promise<A>) => {
    const sleep = spawn("sleep", ["30"], { stdio: "ignore" })
    try {
      return await use(sleep.pid!)
    } finally {
      sleep.kill("SIGKILL")
    }
  }
  const take = (dir: string) =>
    Effect.runPromise(Effect.scoped(RunLock.acquire(dir, errors)).pipe(
      Effect.match({ onSuccess: () => "taken", onFailure: (error) => `refused: ${error}` })
    ))

  it("records PID, start time and boot; a live process that got the crashed run's PID does not block it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-lock-"))
    try {
      const written = await Effect.runPromise(Effect.scoped(Effect.map(RunLock.acquire(dir, errors), (file) => fs.readFileSync(file, "utf8"))))
      assert.deepStrictEqual(RunLock.parseLock(written), RunLock.self())
      assert.strictEqual(RunLock.parseLock(written)?.start, startTime(process.pid))
      assert.isString(RunLock.parseLock(written)?.boot)
      assert.isFalse(fs.existsSync(path.join(dir, "lock")), "released with its scope")

      await withSleep(async (pid) => {
        const lock = path.join(dir, "lock")
        // The crashed run's lock, its PID now a sleep's: another start time.
        fs.writeFileSync(lock, JSON.stringify({ pid, start: "1", boot: RunLock.bootId() }))
        assert.strictEqual(await take(dir), "taken")
        // The same PID and start time: held.
        fs.writeFileSync(lock, JSON.stringify({ pid, start: startTime(pid), boot: RunLock.bootId() }))
        assert.strictEqual(await take(dir), `refused: busy ${pid}`)
        // From another boot: not held, whatever the PID.
        fs.writeFileSync(lock, JSON.stringify({ pid, start: startTime(pid), boot: "another-boot" }))
        assert.strictEqual(await take(dir), "taken")
        // An older lock names the PID only, and stays readable: a live PID holds it.
        fs.writeFileSync(lock, `${pid}\n`)
        assert.strictEqual(await take(dir), `refused: busy ${pid}`)
      })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
