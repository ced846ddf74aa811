import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { diskUsage, overRunDirCap } from "../src/RunDirWatch.ts"
import { contextAllowanceGb, overVramBudget, parseComputeApps, phaseVramGb } from "../src/VramWatch.ts"
import { poll } from "../src/Watch.ts"

describe("the VRAM watch", () => {
  it("parses nvidia-smi's compute apps, dropping rows without numbers", () => {
    const csv = "4211, 30512\n4388, 1024\n5120, [N/A]\n\nNo running processes found\n"
    assert.deepStrictEqual(parseComputeApps(csv), [{ pid: 4211, usedMb: 30512 }, { pid: 4388, usedMb: 1024 }])
  })

  it("sums the GPU memory of the phase's processes only, on every GPU, in GB", () => {
    const apps = [{ pid: 10, usedMb: 1000 }, { pid: 10, usedMb: 1000 }, { pid: 11, usedMb: 500 }, { pid: 99, usedMb: 80000 }]
    assert.closeTo(phaseVramGb(apps, new Set([10, 11, 12])), (2500 * 1024 * 1024) / 1e9, 1e-9)
    assert.strictEqual(phaseVramGb(apps, new Set([12])), 0)
  })

  it("stops a phase over its budget plus the CUDA context's allowance, and only then", () => {
    assert.isUndefined(overVramBudget(40 + contextAllowanceGb, 40))
    assert.deepStrictEqual(overVramBudget(41.5, 40), { cap: "vram", usedGb: 41.5, budgetGb: 40, allowanceGb: contextAllowanceGb })
  })
})

describe("the run-directory watch", () => {
  const withDir = async (body: (dir: string) => Promise<void>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-dir-watch-"))
    try {
      await body(dir)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  it("counts files below the run directory once, and neither follows nor counts what a link points to", () =>
    withDir(async (dir) => {
      const run = path.join(dir, "run")
      fs.mkdirSync(path.join(run, "sub"), { recursive: true })
      fs.writeFileSync(path.join(run, "sub", "a.bin"), Buffer.alloc(3_000_000, 1))
      fs.linkSync(path.join(run, "sub", "a.bin"), path.join(run, "hard-link.bin"))
      fs.writeFileSync(path.join(dir, "outside.bin"), Buffer.alloc(50_000_000, 1))
      fs.symlinkSync(path.join(dir, "outside.bin"), path.join(run, "link.bin"))
      fs.symlinkSync(dir, path.join(run, "link-dir"))
      const usage = await diskUsage([run])
      assert.strictEqual(usage.entries, 6)
      assert.isFalse(usage.truncated)
      assert.isAtLeast(usage.bytes, 3_000_000)
      assert.isBelow(usage.bytes, 3_000_000 + 64 * 1024)
    }))

  it("counts a sparse file by its length, and stops at a bound on the entries it looks at", () =>
    withDir(async (dir) => {
      const fd = fs.openSync(path.join(dir, "sparse.bin"), "w")
      fs.ftruncateSync(fd, 5e9)
      fs.closeSync(fd)
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(dir, `f${i}`), "x")
      const usage = await diskUsage([dir])
      assert.isAtLeast(usage.bytes, 5e9)
      assert.deepStrictEqual(overRunDirCap(usage, 20), undefined)
      assert.deepStrictEqual(overRunDirCap(usage, 1), { cap: "run-dir", usedGb: usage.bytes / 1e9, capGb: 1 })
      const bounded = await diskUsage([dir], 10)
      assert.isTrue(bounded.truncated)
      assert.deepStrictEqual(overRunDirCap(bounded, 20, 10), { cap: "run-dir", usedGb: bounded.bytes / 1e9, capGb: 20, tooManyFiles: 10 })
    }))
})

describe("poll", () => {
  it("calls onOver once, with the first answer over the cap, and stops", async () => {
    let checks = 0
    const overs: Array<number> = []
    poll({
      everyMs: 5,
      check: async () => (++checks >= 3 ? checks : undefined),
      onOver: (over) => overs.push(over)
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepStrictEqual(overs, [3])
    assert.strictEqual(checks, 3)
  })

  it("checks no more once cancelled, and survives a failing check", async () => {
    let checks = 0
    const watching = poll({
      everyMs: 5,
      check: async () => {
        checks++
        throw new Error("nvidia-smi hung up")
      },
      onOver: () => assert.fail("no answer was over")
    })
    await new Promise((resolve) => setTimeout(resolve, 60))
    watching.cancel()
    const after = checks
    assert.isAtLeast(after, 2)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.strictEqual(checks, after)
  })
})
