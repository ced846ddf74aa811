/**
 * A command the host finds but the sandbox does not show (a wrapper script kept in the
 * host's /tmp, which the sandbox replaces by an empty tmpfs) ends the phase as a crash
 * whose reason says so, and where such a command can live, instead of bubblewrap's bare
 * `execvp ...: No such file or directory`. The same script granted as `readable` runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Runner } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as LocalRunner from "../src/LocalRunner.ts"
import { bubblewrap, experiment, runStaged, scriptPhase, type Staged, useLayouts } from "./fixtures.ts"

const newLayout = useLayouts()
const tools = fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-wrapper-"))
afterAll(() => fs.rmSync(tools, { recursive: true, force: true }))
const wrapper = path.join(tools, "wrap.sh")
fs.writeFileSync(wrapper, "#!/bin/sh\nexec \"$@\"\n", { mode: 0o755 })

const run = (target: Staged, options: LocalRunner.LocalRunnerOptions = {}) =>
  Effect.gen(function*() {
    return yield* runStaged(yield* Runner, target)
  }).pipe(Effect.provide(LocalRunner.layer({ sandbox: "required", gpus: "none", ...options })))

describe.skipIf(!bubblewrap.available)(`a wrapped command in the sandbox${bubblewrap.available ? "" : ` (skipped: ${bubblewrap.reason})`}`, () => {
  it.live("kept in the host's /tmp is a crash that names the sandbox; granted as readable, it runs", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const phase = scriptPhase(layout, "train", "print('trained')\n")
      const wrapped = { ...phase, command: [wrapper, ...phase.command] }
      const missing = yield* run(experiment(layout, "hidden-wrapper", [wrapped]))
      assert.strictEqual(missing.status, "crash")
      assert.include(missing.reason!, `train could not start ${fs.realpathSync(wrapper)} in the sandbox (bwrap: execvp: No such file or directory)`)
      assert.include(missing.reason!, "/tmp a fresh empty tmpfs")
      const granted = yield* run(experiment(layout, "granted-wrapper", [wrapped]), { readable: [tools] })
      assert.strictEqual(granted.status, "ok", granted.reason)
    }))
})
