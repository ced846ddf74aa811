import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { loadConfig } from "../src/LoadConfig.ts"

const researchDir = (budget: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "load-config-"))
  fs.writeFileSync(
    path.join(dir, "autoresearch.config.ts"),
    `export default {
  name: "t",
  mutable: ["train.py"],
  phases: { train: ["train.py"], predict: ["train.py", "predict"], score: ["train.py", "score"] },
  metric: { name: "loss", direction: "min" },
  budget: ${budget}
}
`
  )
  return dir
}

describe("loadConfig", () => {
  it.live("derives the grace and the start-up allowance from the budget the flags give, not the config's", () =>
    Effect.gen(function*() {
      const dir = researchDir("{ experimentSeconds: 300 }")
      const own = yield* loadConfig(dir)
      assert.strictEqual(own.config.budget.graceSeconds, 30)
      assert.strictEqual(own.config.budget.startupSeconds, 15)
      const flagged = yield* loadConfig(dir, { experimentSeconds: 20, maxExperiments: 2 })
      assert.strictEqual(flagged.config.budget.experimentSeconds, 20)
      assert.strictEqual(flagged.config.budget.graceSeconds, 5)
      assert.strictEqual(flagged.config.budget.startupSeconds, 2.5)
      assert.strictEqual(flagged.config.budget.maxExperiments, 2)
    }))

  it.live("keeps a grace the config sets itself", () =>
    Effect.gen(function*() {
      const flagged = yield* loadConfig(researchDir("{ experimentSeconds: 600, graceSeconds: 120 }"), { experimentSeconds: 120 })
      assert.strictEqual(flagged.config.budget.graceSeconds, 120)
    }))
})
