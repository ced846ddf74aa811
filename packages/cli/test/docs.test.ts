/**
 * The documentation's runnable examples (see doc-examples.ts for the markers), for real:
 * every file it shows is written into one scratch project outside the repository, the
 * TypeScript ones are type-checked against the built packages as a user's project would
 * be (Node's type stripping included), every config it shows is validated, and every
 * command it shows runs and prints what the page says. pack.test.ts runs the research
 * those files make up from the packed tarballs.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import { allExamples, docFiles, type Example, writeDocFiles } from "./doc-examples.ts"
import { cliBin, repoRoot } from "./fixtures.ts"

const execFileAsync = promisify(execFile)
const scratch = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-docs-")))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const examples = allExamples()
const files = docFiles(examples)
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`, NO_COLOR: "1" }

/** The scratch project: every file the docs show, with the repository's installed packages (the built ones). */
const project = (() => {
  writeDocFiles(scratch, files)
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(scratch, "node_modules"))
  fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "docs", private: true, type: "module" }))
  return scratch
})()

describe("the documentation's examples", () => {
  it("are marked where they can be run: files, commands and their output, the install", () => {
    const where = (example: Example) => `${example.page}:${example.line}`
    expect(examples.filter((example) => example.kind === "file").map((example) => example.name).sort()).toEqual([
      "claude/autoresearch.config.ts",
      "ideas/01-degree-5/DESCRIPTION",
      "ideas/01-degree-5/edits.json",
      "ideas/02-more-steps/DESCRIPTION",
      "ideas/02-more-steps/edits.json",
      "node-scored/autoresearch.config.ts",
      "plugged/autoresearch.config.ts",
      "plugins/HalveLrProposer.ts",
      "plugins/MaeScorer.ts",
      "plugins/MseScorer.ts",
      "plugins/NiceRunner.ts",
      "psnr/autoresearch.config.ts",
      "research.ts",
      "research/autoresearch.config.ts",
      "sandboxed/autoresearch.config.ts",
      "score.mjs"
    ])
    expect(examples.filter((example) => example.kind === "run").map(where)).toEqual([expect.stringMatching(/^docs\/metrics\.md:/)])
    expect(examples.filter((example) => example.kind === "install").map(where)).toEqual([expect.stringMatching(/^README\.md:/)])
    expect(examples.filter((example) => example.kind === "synopsis").map(where)).toEqual([expect.stringMatching(/^README\.md:/)])
  })

  it("give each command with the flags its --help lists", async () => {
    const [synopsis] = examples.filter((example) => example.kind === "synopsis")
    const shown = synopsis!.text.trim().split("\n").map((line) => line.replace(/#.*$/, ""))
    const commandOf = (line: string) => /^autoresearch (\S+)/.exec(line)![1]!
    const help = (...args: Array<string>) => execFileAsync(process.execPath, [cliBin, ...args, "--help"], { encoding: "utf8", env }).then((done) => done.stdout)
    const [top, ...each] = await Promise.all([help(), ...shown.map((line) => help(commandOf(line)))])
    const subcommands = top!.split(/^SUBCOMMANDS$/m)[1]!.split(/\n\s*\n/)[0]!
    expect(shown.map(commandOf).sort()).toEqual([...subcommands.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((match) => match[1]!).sort())
    shown.forEach((line, index) => {
      const flags = each[index]!.split(/^GLOBAL FLAGS$/m)[0]!.split(/^FLAGS$/m)[1] ?? ""
      const own = [...flags.matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1]!)
      expect([...line.matchAll(/\[(--[a-z-]+)/g)].map((match) => match[1]!).sort(), commandOf(line)).toEqual(own.sort())
    })
  }, 60_000)

  it("type-check against the built packages, as a project of a user's own with Node's type stripping", () => {
    fs.writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        target: "es2023",
        lib: ["es2023"],
        types: ["node"],
        strict: true,
        noEmit: true,
        noUnusedLocals: true,
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        erasableSyntaxOnly: true,
        skipLibCheck: true
      },
      include: ["**/*.ts"]
    }))
    const checked = spawnSync(process.execPath, [path.join(repoRoot, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: project, encoding: "utf8" })
    expect(`${checked.stdout}${checked.stderr}`).toBe("")
    expect(checked.status).toBe(0)
  }, 120_000)

  it("show configs that load with Node and validate", () => {
    const configs = [...files.keys()].filter((name) => name.endsWith("/autoresearch.config.ts"))
    expect(configs.length).toBeGreaterThanOrEqual(6)
    fs.writeFileSync(path.join(project, "validate.mjs"), [
      `import { validateConfig } from "@autoresearch/core"`,
      `import { Result } from "effect"`,
      `import * as path from "node:path"`,
      `import { pathToFileURL } from "node:url"`,
      `for (const file of process.argv.slice(2)) {`,
      `  const result = validateConfig((await import(pathToFileURL(path.resolve(file)).href)).default, file)`,
      `  console.log(file, Result.isSuccess(result) ? "valid" : result.failure.message)`,
      `}`
    ].join("\n"))
    const output = execFileSync(process.execPath, ["validate.mjs", ...configs], { cwd: project, encoding: "utf8", env })
    expect(output.trim().split("\n")).toEqual(configs.map((config) => `${config} valid`))
  }, 60_000)

  it("show commands that run, and print what the page says they print", () => {
    const runs = examples.flatMap((example, index) => {
      if (example.kind !== "run") return []
      const next = examples[index + 1]
      return [{ example, output: next?.kind === "output" ? next.text : undefined }]
    })
    for (const { example, output } of runs) {
      const result = spawnSync("bash", ["-eo", "pipefail", "-c", example.text], { cwd: project, encoding: "utf8", env, timeout: 60_000 })
      expect(result.status, `${example.page}:${example.line}: ${result.stderr}`).toBe(0)
      if (output !== undefined) expect(result.stdout, `${example.page}:${example.line}`).toBe(output)
    }
  }, 120_000)
})
