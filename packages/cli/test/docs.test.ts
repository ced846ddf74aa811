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
import { Proposal } from "@autoresearch/core"
import { Knobs } from "@autoresearch/llm"
import { Schema } from "effect"
import { allExamples, docFiles, type Example, fragments, pages, unmarkedBlocks, writeDocFiles } from "./doc-examples.ts"
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
  // each TypeScript fragment, in its wrapper, beside the files: type-checked with them
  examples.forEach((example, index) => {
    if (example.kind !== "fragment") return
    const wrapper = fragments[example.name!]!
    fs.mkdirSync(path.join(scratch, "fragments"), { recursive: true })
    fs.writeFileSync(path.join(scratch, "fragments", `${example.name}-${index}.ts`), `${wrapper.before}${example.text}${wrapper.after}`)
  })
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(scratch, "node_modules"))
  fs.writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "docs", private: true, type: "module" }))
  return scratch
})()

/** The CLI's --help, by subcommand ("" for the top level), asked once each. */
const helps = new Map<string, Promise<string>>()
const helpOf = (command: string) => {
  if (!helps.has(command)) {
    const args = command === "" ? ["--help"] : [command, "--help"]
    helps.set(command, execFileAsync(process.execPath, [cliBin, ...args], { encoding: "utf8", env }).then((done) => done.stdout))
  }
  return helps.get(command)!
}
const subcommandsOf = (top: string) => [...top.split(/^SUBCOMMANDS$/m)[1]!.split(/\n\s*\n/)[0]!.matchAll(/^ {2}(\S+) {2,}\S/gm)].map((match) => match[1]!)
const flagsOf = (help: string) => [...(help.split(/^FLAGS$/m)[1] ?? "").matchAll(/^ {2}(--[a-z-]+)/gm)].map((match) => match[1]!)

describe("the documentation's examples", () => {
  it("each carry a marker that says what they are, so that a new one is checked or declared illustration", () => {
    expect(pages().flatMap(unmarkedBlocks)).toEqual([])
  })

  it("give only commands the CLI and ./dev have, with flags their --help lists", async () => {
    const devCommands = [...fs.readFileSync(path.join(repoRoot, "dev"), "utf8").matchAll(/^ {2}([a-z|-]+)\)/gm)].flatMap((match) => match[1]!.split("|"))
    const subcommands = subcommandsOf(await helpOf(""))
    const usages = examples.filter((example) => example.kind === "usage")
    expect(usages.length).toBeGreaterThanOrEqual(10)
    for (const example of usages) {
      for (const line of example.text.split("\n").map((text) => text.trim()).filter((text) => text !== "")) {
        const where = `${example.page}:${example.line}: ${line}`
        const command = line.replace(/^(?:[A-Z_]+=\S*\s+)+/, "")
        if (/^(?:git\s|npx nx\s|export [A-Z_]+=)/.test(command)) continue
        const dev = /^\.\/dev (\S+)/.exec(command)
        if (dev !== null) {
          expect(devCommands, where).toContain(dev[1])
          continue
        }
        const cli = /^(?:autoresearch|npx autoresearch|node packages\/cli\/dist\/bin\.js) (\S+)/.exec(command)
        expect(cli, `${where}: not a command of autoresearch or ./dev`).not.toBeNull()
        expect(subcommands, where).toContain(cli![1])
        const own = flagsOf(await helpOf(cli![1]!))
        for (const [, flag] of line.matchAll(/(?:^|[\s[])(--[a-z][a-z-]*)/g)) expect(own, where).toContain(flag)
      }
    }
  }, 60_000)

  it("show JSON that decodes, and knob annotations KnobProposer reads", () => {
    const schemas: Record<string, Schema.Codec<unknown, unknown>> = { proposal: Proposal as unknown as Schema.Codec<unknown, unknown> }
    const jsons = examples.filter((example) => example.kind === "json")
    expect(jsons.length).toBeGreaterThanOrEqual(1)
    for (const example of jsons) {
      const schema = schemas[example.name!]
      expect(schema, `${example.page}:${example.line}: no schema ${example.name}`).toBeDefined()
      Schema.decodeUnknownSync(schema!)(JSON.parse(example.text))
    }
    const knobs = examples.filter((example) => example.kind === "knobs")
    expect(knobs.length).toBeGreaterThanOrEqual(1)
    for (const example of knobs) {
      const parsed = Knobs.parseKnobs([{ path: "train.py", content: example.text }])
      expect(parsed.problems, `${example.page}:${example.line}`).toEqual([])
      expect(parsed.knobs.length).toBe(example.text.trim().split("\n").length)
    }
  })

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
      "plugins/nice-runner.contract.ts",
      "psnr/autoresearch.config.ts",
      "research.ts",
      "research/autoresearch.config.ts",
      "sandboxed/autoresearch.config.ts",
      "score.mjs",
      "slurm/autoresearch.config.ts"
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
