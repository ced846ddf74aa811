/**
 * Vitest global setup: builds the packages (incrementally), since the CLI tests run
 * the real `autoresearch` executable from packages/cli/dist.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export default function setup() {
  // For working on one package while another is mid-edit: build that package yourself.
  if (process.env.AUTORESEARCH_SKIP_BUILD === "1") return
  const root = path.resolve(import.meta.dirname, "..")
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-b"], { cwd: root, stdio: "inherit" })
  fs.chmodSync(path.join(root, "packages/cli/dist/bin.js"), 0o755)
}
