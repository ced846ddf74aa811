import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

// One way to start a process per purpose (docs/architecture.md, "Processes"): short
// commands through core's Command, supervised process trees with `spawn` in these two.
const allowed: Record<string, string> = {
  "core/src/Command.ts": "short commands whose output is read (git included)",
  "core/src/TrustedCommand.ts": "a trusted command (the scorer's) as a supervised process tree",
  "runners/src/PhaseProcess.ts": "a phase as a supervised process tree"
}

const packages = path.resolve(import.meta.dirname, "../..")

/** What starts a process: Node's child_process (imported or required) and the libraries we no longer use for it. */
const startsProcesses = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](?:node:)?child_process["']|["'](?:execa|simple-git)["']/

/** The libraries we no longer use to start a process, in a test either: tests start theirs with child_process. */
const retiredLibrary = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](?:execa|simple-git)["']/

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(file)
    return /\.(?:ts|mts|cts|js|mjs|tsx)$/.test(entry.name) ? [file] : []
  })

const offenders = () =>
  fs.readdirSync(packages)
    .map((name) => path.join(packages, name, "src"))
    .filter((dir) => fs.existsSync(dir))
    .flatMap(sources)
    .map((file) => path.relative(packages, file).split(path.sep).join("/"))
    .filter((file) => !(file in allowed) && startsProcesses.test(fs.readFileSync(path.join(packages, file), "utf8")))

/** Test files (packages' and examples') that import a retired library. */
const testOffenders = () => {
  const root = path.resolve(packages, "..")
  return [
    ...fs.readdirSync(packages).map((name) => path.join(packages, name, "test")),
    ...fs.readdirSync(path.join(root, "examples")).map((name) => path.join(root, "examples", name, "test"))
  ]
    .filter((dir) => fs.existsSync(dir))
    .flatMap(sources)
    .filter((file) => file !== import.meta.filename && retiredLibrary.test(fs.readFileSync(file, "utf8")))
    .map((file) => path.relative(root, file).split(path.sep).join("/"))
}

/** Packages that still name a retired library as a dependency of any kind. */
const dependents = () =>
  fs.readdirSync(packages)
    .map((name) => path.join(packages, name, "package.json"))
    .concat(path.resolve(packages, "../package.json"))
    .filter((file) => fs.existsSync(file))
    .filter((file) => {
      const manifest = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>
      return ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"].some((field) => {
        const deps = manifest[field]
        return typeof deps === "object" && deps !== null && ("execa" in deps || "simple-git" in deps)
      })
    })

describe("one way to start a process", () => {
  it("no source file outside the allowed modules imports child_process, execa or simple-git", () => {
    assert.deepStrictEqual(offenders(), [])
  })

  it("no test imports execa or simple-git, and no package depends on them", () => {
    assert.deepStrictEqual(testOffenders(), [])
    assert.deepStrictEqual(dependents(), [])
    assert.isTrue(retiredLibrary.test(`import { execa } from "execa"`))
    assert.isTrue(retiredLibrary.test(`const { execa } = await import('execa')`))
    // this file names them in examples of imports, so it leaves itself out
    assert.isFalse(retiredLibrary.test(`const names = ["execa"]`))
  })

  it("the scan finds each way in", () => {
    for (
      const line of [
        `import { execFile } from "node:child_process"`,
        `import * as cp from 'child_process'`,
        `const cp = await import("node:child_process")`,
        `const cp = require("child_process")`,
        `import { execa } from "execa"`,
        `import { simpleGit } from "simple-git"`
      ]
    ) assert.isTrue(startsProcesses.test(line), line)
    assert.isFalse(startsProcesses.test(`import * as Command from "./Command.ts"`))
  })

  it("every allowed module exists and still starts processes", () => {
    for (const file of Object.keys(allowed)) {
      assert.isTrue(startsProcesses.test(fs.readFileSync(path.join(packages, file), "utf8")), file)
    }
  })
})
