/**
 * Under a Node older than the CLI needs, `autoresearch` says so in one sentence instead of
 * a module-loader stack trace. Uses the system's Node where it is an old one (Debian 12
 * ships Node 18 or 20); skipped, saying so, where there is none.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { cliBin } from "./fixtures.ts"

const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((file) => {
  if (!fs.existsSync(file)) return false
  const version = spawnSync(file, ["--version"], { encoding: "utf8" }).stdout.trim()
  const [major = 99] = version.replace(/^v/, "").split(".").map(Number)
  return major < 22
})

describe("the autoresearch executable", () => {
  it.skipIf(systemNode === undefined)(`names the Node version it needs under an old Node (${systemNode ?? "no old system Node found"})`, () => {
    const result = spawnSync(systemNode!, [cliBin, "--help"], { encoding: "utf8" })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^autoresearch: error: Node \d+\.\d+\.\d+ is too old; autoresearch needs Node 22\.18 or newer/)
    expect(result.stderr).toContain("Install Node 24 (https://nodejs.org/en/download, or `nvm install 24`)")
    expect(result.stderr).not.toContain("SyntaxError")
  })
})
