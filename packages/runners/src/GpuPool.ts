/**
 * The GPU pool: which GPUs this machine has (from `nvidia-smi` when it is there) and
 * which experiment holds which. Concurrent experiments each lease their own devices for
 * the length of a phase, waiting while none are free; the runner turns a lease into
 * `CUDA_VISIBLE_DEVICES`.
 */
import { Command } from "@autoresearch/core"
import { Context, Effect, Layer, Semaphore } from "effect"
import type { Scope } from "effect"

export interface Gpu {
  /** nvidia-smi's index, the one `CUDA_VISIBLE_DEVICES` takes with `CUDA_DEVICE_ORDER=PCI_BUS_ID`. */
  readonly index: number
  readonly uuid: string
  readonly name: string
  /** Memory in MiB, as nvidia-smi reports it. */
  readonly memoryTotalMb: number
  readonly memoryUsedMb: number
}

export interface Lease {
  readonly gpus: ReadonlyArray<Gpu>
}

export class GpuPool extends Context.Service<GpuPool, {
  readonly gpus: ReadonlyArray<Gpu>
  /** Leases `count` GPUs until the scope closes, waiting while too few are free; none when the pool is empty. */
  readonly lease: (count: number) => Effect.Effect<Lease, never, Scope.Scope>
}>()("@autoresearch/runners/GpuPool") {}

export const nvidiaSmiQuery = ["--query-gpu=index,uuid,name,memory.total,memory.used", "--format=csv,noheader,nounits"]

/** Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used --format=csv,noheader,nounits`. */
export const parseNvidiaSmi = (csv: string): Array<Gpu> =>
  csv.split(/\r?\n/).flatMap((line) => {
    const fields = line.split(",").map((field) => field.trim())
    if (fields.length < 5) return []
    // A GPU's name may itself hold commas: the index and uuid lead, the two memory columns close.
    const [index, uuid] = fields
    const [total, used] = fields.slice(-2)
    const gpu = {
      index: Number(index),
      uuid: uuid!,
      name: fields.slice(2, -2).join(", "),
      memoryTotalMb: Number(total),
      memoryUsedMb: Number(used)
    }
    return Number.isInteger(gpu.index) && Number.isFinite(gpu.memoryTotalMb) ? [gpu] : []
  })

/** The GPUs nvidia-smi lists; none when it is missing or fails. */
export const detect = (nvidiaSmi = "nvidia-smi"): Effect.Effect<ReadonlyArray<Gpu>> =>
  Command.run(nvidiaSmi, nvidiaSmiQuery, { timeoutMs: 15_000 }).pipe(
    Effect.map((output) => (Command.succeeded(output) ? parseNvidiaSmi(output.stdout) : [])),
    Effect.orElseSucceed(() => [])
  )

/** A pool over a fixed list of GPUs. */
export const make = Effect.fnUntraced(function*(gpus: ReadonlyArray<Gpu>) {
  const permits = yield* Semaphore.make(gpus.length)
  const free = new Set(gpus.map((gpu) => gpu.index))
  const lease = (count: number): Effect.Effect<Lease, never, Scope.Scope> => {
    const wanted = Math.min(Math.max(0, Math.floor(count)), gpus.length)
    if (wanted === 0) return Effect.succeed({ gpus: [] })
    return Effect.acquireRelease(
      Effect.map(Semaphore.take(permits, wanted), () => {
        // Holding `wanted` permits means at least `wanted` devices are free.
        const taken = gpus.filter((gpu) => free.has(gpu.index)).slice(0, wanted)
        for (const gpu of taken) free.delete(gpu.index)
        return { gpus: taken }
      }),
      (held) =>
        Effect.suspend(() => {
          for (const gpu of held.gpus) free.add(gpu.index)
          return Semaphore.release(permits, held.gpus.length)
        })
    )
  }
  return GpuPool.of({ gpus, lease })
})

export interface GpuPoolOptions {
  /** `auto` (default): what nvidia-smi lists; `none`: no GPU; or the indices to use. */
  readonly gpus?: "auto" | "none" | ReadonlyArray<number>
  /** The nvidia-smi executable (default `nvidia-smi` on PATH). */
  readonly nvidiaSmi?: string
}

/** The machine's GPUs, as options select them. */
export const layer = (options: GpuPoolOptions = {}) =>
  Layer.effect(
    GpuPool,
    Effect.gen(function*() {
      const choice = options.gpus ?? "auto"
      if (choice === "none") return yield* make([])
      const found = yield* detect(options.nvidiaSmi)
      if (choice === "auto") return yield* make(found)
      // Indices asked for by hand are used even where nvidia-smi cannot say what they are.
      return yield* make(choice.map((index) =>
        found.find((gpu) => gpu.index === index) ??
          { index, uuid: "", name: "unknown GPU", memoryTotalMb: Number.NaN, memoryUsedMb: Number.NaN }
      ))
    })
  )

/** A pool over GPUs given by hand, for tests and for machines where nvidia-smi is not the truth. */
export const layerOf = (gpus: ReadonlyArray<Gpu>) => Layer.effect(GpuPool, make(gpus))
