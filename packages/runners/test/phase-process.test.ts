import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach } from "vitest"
import { BoundedLog } from "../src/BoundedLog.ts"
import { maxTimerMs, nextTimerMs, PhaseProcess } from "../src/PhaseProcess.ts"
import { ProcessTree } from "@autoresearch/core"
import * as Sandbox from "../src/Sandbox.ts"
import { bubblewrap, type Layout, makeLayout } from "./fixtures.ts"

const layouts: Array<Layout> = []
afterEach(() => {
  for (const layout of layouts.splice(0)) layout.cleanup()
})

describe("nextTimerMs", () => {
  it("never asks a Node timer for more than it can wait, nor for less than nothing", () => {
    assert.strictEqual(nextTimerMs(2_200_000 * 1000), maxTimerMs)
    assert.strictEqual(nextTimerMs(Number.POSITIVE_INFINITY), maxTimerMs)
    assert.strictEqual(nextTimerMs(1500), 1500)
    assert.strictEqual(nextTimerMs(-3), 0)
    assert.strictEqual(nextTimerMs(Number.NaN), 0)
  })
})

const title = bubblewrap.available ? "a sandboxed phase" : `a sandboxed phase — SKIPPED: ${bubblewrap.reason}`

describe.skipIf(!bubblewrap.available)(title, () => {
  it.live("stopped before bubblewrap reported its namespace, leaves no process behind", () =>
    Effect.gen(function*() {
      const layout = makeLayout()
      layouts.push(layout)
      const runDir = path.join(layout.runsDir, "early")
      fs.mkdirSync(runDir)
      const spec = { workdir: layout.workdir, runDir, readable: [], writable: [], readOnly: [], homes: [], hidden: [], devices: [] }
      const variable = "AUTORESEARCH_RUN_ID"
      const leaked: Array<number> = []
      // Stopping 0.5 to 2 ms after the start lands before bubblewrap writes its info about once in twenty.
      for (let attempt = 0; attempt < 150; attempt++) {
        const value = `early-stop-${attempt}-${Date.now()}`
        const phase = PhaseProcess.start({
          argv: ["bwrap", ...Sandbox.bwrapArgs(spec, { infoFd: 3 }), "sleep", "30"],
          cwd: layout.workdir,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", [variable]: value },
          sandboxed: true,
          marker: { variable, value },
          timeoutSeconds: 60,
          killGraceSeconds: 0.05,
          log: new BoundedLog(path.join(runDir, "phase.log"))
        })
        const until = performance.now() + [0.5, 0.75, 1, 1.25, 1.5, 2][attempt % 6]!
        while (performance.now() < until) {
          // a timer cannot wait less than a millisecond
        }
        yield* Effect.promise(() => phase.stop("interrupted"))
        yield* Effect.promise(() => phase.finish())
        leaked.push(...ProcessTree.markedMembers({ variable, value, processGroup: undefined }))
      }
      ProcessTree.signal(leaked, "SIGKILL")
      assert.deepStrictEqual(leaked, [])
    }))
})
