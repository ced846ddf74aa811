import { assert, describe, it } from "@effect/vitest"
import { Orphans } from "@autoresearch/core"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  daemonScript,
  experiment,
  runExperimentScript,
  scriptPhase,
  waitDead,
  waitForFile,
  watchProcesses,
  runLocal,
  useLayouts,
  type Staged
} from "./fixtures.ts"

const { parseRecord } = Orphans

const newLayout = useLayouts()

const run = (experiment: Staged) => runLocal(experiment, { sandbox: "off" })

const records = (runsDir: string) => fs.readdirSync(runsDir).filter((name) => name.startsWith(".running-"))

describe("parseRecord", () => {
  it("takes a record the runner wrote and nothing else", () => {
    const record = { owner: { pid: 4242, start: "123456" }, variable: "AUTORESEARCH_RUN_ID", value: "7-train-0b6f2c9e-1d", processGroup: 4300 }
    assert.deepStrictEqual(parseRecord(JSON.stringify(record)), record)
    const { processGroup: _, ...beforeSpawn } = record
    assert.deepStrictEqual(parseRecord(JSON.stringify(beforeSpawn)), beforeSpawn)
    const scratch = path.join(os.tmpdir(), "autoresearch-train-x1y2z3")
    assert.deepStrictEqual(parseRecord(JSON.stringify({ ...record, scratch })), { ...record, scratch })
    const bad = [
      { ...record, value: "" },
      { ...record, processGroup: 1 },
      { ...record, owner: { pid: -1 } },
      { ...record, variable: "A=B" }
    ]
    for (const entry of bad) {
      assert.isUndefined(parseRecord(JSON.stringify(entry)), JSON.stringify(entry))
    }
    // nothing but the runner's own scratch directories is ever removed; the phase is still killed
    for (const elsewhere of [os.homedir(), path.join(os.tmpdir(), "autoresearch-x", "..", "..", "etc")]) {
      assert.deepStrictEqual(parseRecord(JSON.stringify({ ...record, scratch: elsewhere })), record)
    }
    assert.isUndefined(parseRecord("{\"owner\":"))
  })
})

describe.skipIf(process.platform !== "linux")("a runner killed with SIGKILL, unsandboxed", () => {
  it.live("has its phase's processes killed when the next run starts in the same runs folder", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const marker = `orphaned-${crypto.randomUUID()}`
      const phase = scriptPhase(layout, "train", daemonScript(marker, "time.sleep(60)"), { args: [marker], timeoutSeconds: 60 })
      const first = experiment(layout, "1", [phase])
      const watcher = watchProcesses(marker)
      const child = spawn(process.execPath, [runExperimentScript, JSON.stringify(first), JSON.stringify({ sandbox: "off" })], {
        stdio: "ignore"
      })
      const exited = new Promise((resolve) => child.on("exit", resolve))
      assert.isTrue(yield* Effect.promise(() => waitForFile(path.join(first.runDir, "daemons-started"))))
      yield* Effect.promise(() => watcher.waitFor(3))
      watcher.stop()
      assert.strictEqual(records(layout.runsDir).length, 1)
      const recorded = parseRecord(fs.readFileSync(path.join(layout.runsDir, records(layout.runsDir)[0]!), "utf8"))
      assert.isTrue(fs.existsSync(recorded!.scratch!))
      child.kill("SIGKILL")
      yield* Effect.promise(() => exited)
      // the sleepers that left the phase's process group outlive the runner: only the next runner can find them
      yield* Effect.sleep("200 millis")
      assert.isAtLeast(watcher.alive().length, 2)

      const second = yield* run(experiment(layout, "2", [scriptPhase(layout, "train", "print('the resumed run')\n")]))
      assert.strictEqual(second.status, "ok")
      assert.deepStrictEqual(yield* Effect.promise(() => waitDead(watcher.seen, 500)), [])
      assert.deepStrictEqual(records(layout.runsDir), [])
      // the dead runner's HOME and TMPDIR for the phase go too
      assert.isFalse(fs.existsSync(recorded!.scratch!))
    }))
})
