/**
 * A plug-in beside a research directory outside any project that installs Effect still
 * imports `effect`, and gets the copy the SDK uses: a project's own, other copy of
 * Effect (here a stand-in that throws when loaded) is never mixed in. Real git, the real
 * CLI, examples/toy in a repository under the system's temporary directory.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cliBin, git, makeToyRepo, readJournal, type ToyRepo } from "./fixtures.ts"

const plugin = `import { readRegularFile, Scorer, ScorerError } from "@autoresearch/core"
import { Effect, Layer } from "effect"
import * as path from "node:path"

const numbers = (file: string) => {
  const read = readRegularFile(file, 1 << 20)
  return read._tag === "Text" ? (JSON.parse(read.text) as Array<number>) : undefined
}

export const MseScorer = Layer.succeed(Scorer, Scorer.of({
  name: "plug-in mse",
  score: (input) => Effect.gen(function*() {
    const targets = numbers(path.join(input.hiddenDir, "y.json"))
    if (targets === undefined) return yield* new ScorerError({ scorer: "plug-in mse", reason: "no targets" })
    const predictions = numbers(path.join(input.run.runDir, "predictions.json")) ?? []
    const mse = predictions.reduce((sum, p, i) => sum + (p - targets[i]!) ** 2, 0) / targets.length
    return { status: "ok" as const, metrics: { val_mse: mse, plugin: 1 }, reported: {}, flags: [] }
  })
}))
`

let repo: ToyRepo | undefined
afterEach(() => repo?.cleanup())

describe("a plug-in outside the repository", () => {
  it("imports effect, resolved to the SDK's own copy", () => {
    repo = makeToyRepo({
      configPatch: (text) =>
        `import { MseScorer } from "../plugins/MseScorer.ts"\n${text.replace("verifySeeds: 0 }", "verifySeeds: 0 },\n  scorer: MseScorer")}`
    })
    expect(repo.root.startsWith(path.resolve(import.meta.dirname, "../../.."))).toBe(false)
    fs.mkdirSync(path.join(repo.root, "plugins"))
    fs.writeFileSync(path.join(repo.root, "plugins", "MseScorer.ts"), plugin)
    // Another copy of effect where the plug-in's project would look first: loading it fails the run.
    fs.mkdirSync(path.join(repo.root, "node_modules", "effect"), { recursive: true })
    fs.writeFileSync(path.join(repo.root, "node_modules", "effect", "package.json"), JSON.stringify({ name: "effect", type: "module", exports: "./index.js" }))
    fs.writeFileSync(path.join(repo.root, "node_modules", "effect", "index.js"), `throw new Error("a second copy of effect was loaded")\n`)
    fs.writeFileSync(path.join(repo.root, ".gitignore"), "node_modules\n")
    git(repo.root, "add", "-A")
    git(repo.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "a scorer plug-in")

    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
    delete env.FORCE_COLOR
    const result = spawnSync(process.execPath, [cliBin, "run", "research", "--max-experiments", "1"], { cwd: repo.root, env, encoding: "utf8", timeout: 120_000 })
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0)
    const [baseline] = readJournal(repo, "research")
    expect(baseline?.status).toBe("keep")
    expect(baseline?.metrics.plugin).toBe(1)
    expect(baseline?.metrics.val_mse).toBeGreaterThan(0)
  }, 120_000)
})
