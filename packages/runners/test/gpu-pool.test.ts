import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as GpuPool from "../src/GpuPool.ts"

const h100 = (index: number): GpuPool.Gpu => ({
  index,
  uuid: `GPU-${index}`,
  name: "NVIDIA H100 80GB HBM3",
  memoryTotalMb: 81559,
  memoryUsedMb: 0
})

describe("parseNvidiaSmi", () => {
  it("reads index, uuid, name and memory, a name with commas included", () => {
    const csv = "0, GPU-1a2b, NVIDIA H100 80GB HBM3, 81559, 3\n1, GPU-3c4d, Tesla V100-SXM2-16GB, Rev, A, 16384, 15000\n\nNo devices were found\n"
    assert.deepStrictEqual(GpuPool.parseNvidiaSmi(csv), [
      { index: 0, uuid: "GPU-1a2b", name: "NVIDIA H100 80GB HBM3", memoryTotalMb: 81559, memoryUsedMb: 3 },
      { index: 1, uuid: "GPU-3c4d", name: "Tesla V100-SXM2-16GB, Rev, A", memoryTotalMb: 16384, memoryUsedMb: 15000 }
    ])
  })
})

describe("the pool", () => {
  it.live("leases distinct GPUs to concurrent experiments and makes the next wait for a free one", () =>
    Effect.gen(function*() {
      const pool = yield* GpuPool.make([h100(0), h100(1)])
      const events: Array<string> = []
      const experiment = (name: string, millis: number) =>
        Effect.scoped(Effect.gen(function*() {
          const lease = yield* pool.lease(1)
          events.push(`${name} got ${lease.gpus.map((gpu) => gpu.index).join(",")}`)
          yield* Effect.sleep(millis)
          events.push(`${name} done`)
        }))
      yield* Effect.all([experiment("a", 150), experiment("b", 50), experiment("c", 10)], { concurrency: "unbounded" })
      assert.deepStrictEqual(events.slice(0, 2), ["a got 0", "b got 1"])
      assert.deepStrictEqual(events.slice(2, 4), ["b done", "c got 1"])
      assert.deepStrictEqual(events.slice(4), ["c done", "a done"])
    }))

  it.effect("leases nothing where there is no GPU, and never more than there are", () =>
    Effect.gen(function*() {
      const empty = yield* GpuPool.make([])
      assert.deepStrictEqual(yield* Effect.scoped(empty.lease(1)), { gpus: [] })
      const one = yield* GpuPool.make([h100(3)])
      assert.deepStrictEqual((yield* Effect.scoped(one.lease(4))).gpus.map((gpu) => gpu.index), [3])
    }))

  it.live("detects GPUs with nvidia-smi, and none without it", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nvidia-smi-"))
      const fake = path.join(dir, "nvidia-smi")
      fs.writeFileSync(fake, "#!/bin/sh\necho '0, GPU-aa, NVIDIA A100-SXM4-80GB, 81920, 1'\necho '1, GPU-bb, NVIDIA A100-SXM4-80GB, 81920, 2'\n", { mode: 0o755 })
      try {
        assert.deepStrictEqual((yield* GpuPool.detect(fake)).map((gpu) => gpu.uuid), ["GPU-aa", "GPU-bb"])
        assert.deepStrictEqual(yield* GpuPool.detect(path.join(dir, "missing")), [])
        const chosen = yield* Effect.provide(GpuPool.GpuPool.useSync((pool) => pool), GpuPool.layer({ gpus: [1, 7], nvidiaSmi: fake }))
        assert.deepStrictEqual(chosen.gpus.map((gpu) => [gpu.index, gpu.uuid]), [[1, "GPU-bb"], [7, ""]])
        const none = yield* Effect.provide(GpuPool.GpuPool.useSync((pool) => pool), GpuPool.layer({ gpus: "none", nvidiaSmi: fake }))
        assert.deepStrictEqual(none.gpus, [])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})
