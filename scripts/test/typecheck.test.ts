/**
 * The packages' sources are type-checked by their build; this checks the rest against
 * them: the tests, the benchmarks, the scripts and the examples (tsconfig.check.json).
 */
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { assert, describe, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const tsc = path.join(root, "node_modules", ".bin", "tsc")

describe("tsconfig.check.json", () => {
  it("the tests, benchmarks, scripts and examples type-check", async () => {
    const result = await promisify(execFile)(tsc, ["-p", "tsconfig.check.json"], { cwd: root, timeout: 110_000 }).then(
      () => ({ ok: true, output: "" }),
      (error: { stdout?: string; stderr?: string; message: string }) => ({
        ok: false,
        output: `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message
      })
    )
    assert.isTrue(result.ok, `tsc -p tsconfig.check.json found errors:\n${result.output}`)
  })
})
