/**
 * The SDK is used from outside: each package packs, installs from its tarball into a
 * scratch project outside the repository, imports, type-checks, and the CLI runs.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { repoRoot } from "./fixtures.ts"

const packages = ["core", "runners", "metrics", "llm", "cli"]
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-pack-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const npm = (cwd: string, ...args: Array<string>) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })

describe("packed packages", () => {
  it("install into a project outside the repository, import, type-check, and run the CLI", () => {
    const tarballs = packages.map((name) =>
      path.join(scratch, npm(path.join(repoRoot, "packages", name), "pack", "--pack-destination", scratch).trim().split("\n").at(-1)!)
    )
    const project = path.join(scratch, "project")
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }))
    const typescript = JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules/typescript/package.json"), "utf8")).version
    npm(project, "install", ...tarballs, `typescript@${typescript}`, "@types/node@24")
    fs.writeFileSync(path.join(project, "main.ts"), [
      `import { defineResearch, keepRule, resolveConfig, threshold } from "@autoresearch/core"`,
      `import { LocalRunner } from "@autoresearch/runners"`,
      `import { CommandScorer } from "@autoresearch/metrics"`,
      `const config = resolveConfig(defineResearch({ mutable: ["train.py"], phases: { train: ["train.py"] }, metric: { name: "m", direction: "max" }, budget: { experimentSeconds: 10 } }))`,
      `const decision: { keep: boolean } = keepRule({ runStatus: "ok", score: { status: "ok", metrics: { m: 2 }, reported: {}, flags: [] } }, 1, { ...config.metric, minDelta: threshold(config.metric.minDelta, undefined) })`,
      `console.log(JSON.stringify({ keep: decision.keep, runner: typeof LocalRunner.layer, scorer: typeof CommandScorer.layer }))`
    ].join("\n"))
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { module: "nodenext", target: "es2023", strict: true, noEmit: true, types: ["node"], skipLibCheck: false }
    }))
    const output = execFileSync(process.execPath, ["main.ts"], { cwd: project, encoding: "utf8" })
    expect(JSON.parse(output)).toEqual({ keep: true, runner: "function", scorer: "function" })
    execFileSync(process.execPath, [path.join(project, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: project, stdio: "pipe" })
    const help = execFileSync(path.join(project, "node_modules/.bin/autoresearch"), ["--help"], { cwd: project, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } })
    expect(help).toMatch(/^\s+run\s+Run \(or resume\) the research loop/m)
    expect(help).toContain("status")
  })
})
