/**
 * The modules a research config imports are sealed like its immutable files (issue 13's
 * first hole): a plug-in beside the research directory with an uncommitted change is
 * refused before anything runs, a committed one is recorded, a resume after it changed
 * is refused, and a module outside the repository cannot be used at all. Real git, the
 * real CLI, examples/toy.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cliBin, git, makeToyRepo, type ToyRepo } from "./fixtures.ts"

const importing = (from: string) => (text: string) =>
  `import { minDelta } from "${from}"\n${text.replace("minDelta: 0.0001", "minDelta")}`

const cli = (args: ReadonlyArray<string>, cwd: string) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  const result = spawnSync(process.execPath, [cliBin, ...args], { cwd, env, encoding: "utf8", timeout: 120_000 })
  return { code: result.status, output: `${result.stdout}${result.stderr}` }
}
const commitAll = (root: string, message: string) => {
  git(root, "add", "-A")
  git(root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", message)
}

let repo: ToyRepo | undefined
afterEach(() => repo?.cleanup())

describe("the modules a config imports", () => {
  it("are refused while uncommitted, recorded at the first start, and a resume after they changed is refused", () => {
    repo = makeToyRepo({ configPatch: importing("../plugins/delta.ts") })
    const plugin = path.join(repo.root, "plugins", "delta.ts")
    fs.mkdirSync(path.dirname(plugin))
    fs.writeFileSync(plugin, `import { factor } from "./factor.ts"\nexport const minDelta = 0.0001 * factor\n`)
    fs.writeFileSync(path.join(repo.root, "plugins", "factor.ts"), "export const factor = 1\n")
    commitAll(repo.root, "a plug-in beside the research directory")

    // An uncommitted change two imports away is refused, before anything runs.
    fs.writeFileSync(path.join(repo.root, "plugins", "factor.ts"), "export const factor = 1000\n")
    const refused = cli(["run", "research", "--max-experiments", "1"], repo.root)
    expect(refused.code).toBe(1)
    expect(refused.output).toContain("the config imports modules that are not committed as they are: plugins/factor.ts")
    expect(fs.existsSync(path.join(repo.stateDir("research"), "journal.jsonl"))).toBe(false)

    git(repo.root, "checkout", "--", "plugins/factor.ts")
    const first = cli(["run", "research", "--max-experiments", "1"], repo.root)
    expect(first.code, first.output).toBe(0)
    const recorded = JSON.parse(fs.readFileSync(path.join(repo.stateDir("research"), "config-modules.json"), "utf8"))
    expect(Object.keys(recorded).sort()).toEqual(["plugins/delta.ts", "plugins/factor.ts"])

    // Committed, but changed since the run began: the experiments so far were kept by the old code.
    fs.writeFileSync(path.join(repo.root, "plugins", "factor.ts"), "export const factor = 1000\n")
    commitAll(repo.root, "a looser keep threshold")
    const resumed = cli(["run", "research", "--max-experiments", "2"], repo.root)
    expect(resumed.code).toBe(1)
    expect(resumed.output).toContain("modules the config imports changed since this research run began: plugins/factor.ts")
    expect(fs.readFileSync(path.join(repo.stateDir("research"), "journal.jsonl"), "utf8").trim().split("\n")).toHaveLength(1)
  }, 180_000)

  it("refuses a module outside the repository, which cannot be committed", () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-plugin-"))
    try {
      fs.writeFileSync(path.join(outside, "delta.ts"), "export const minDelta = 0.0001\n")
      repo = makeToyRepo({ configPatch: importing(path.join(outside, "delta.ts")) })
      const refused = cli(["run", "research", "--max-experiments", "1"], repo.root)
      expect(refused.code).toBe(1)
      expect(refused.output).toContain(`the config imports ${path.join(outside, "delta.ts")}, outside the repository, so it cannot be sealed`)
    } finally {
      fs.rmSync(outside, { recursive: true, force: true })
    }
  }, 120_000)
})
