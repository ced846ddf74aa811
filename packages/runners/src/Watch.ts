/**
 * The caps the runner polls while a phase runs (the size of its run directory, the GPU
 * memory of its processes): one check at a time, spaced so that a slow check (a large
 * directory, a busy nvidia-smi) never takes more than a tenth of the time, and a stop the
 * first time a check says the phase is over its cap.
 */
import * as RunDirWatch from "./RunDirWatch.ts"
import type { CapStop } from "./Triage.ts"
import * as VramWatch from "./VramWatch.ts"

export interface Watch {
  /** Stops polling; a check under way finishes, and is ignored. */
  readonly cancel: () => void
}

/** A check takes at most this share of the time between the starts of two checks. */
const busyShare = 0.1

/** Polls `check` every `everyMs` or more, calls `onOver` once with the first answer that is not undefined, then stops. */
export const poll = <A>(options: {
  readonly everyMs: number
  readonly check: () => Promise<A | undefined>
  readonly onOver: (over: A) => void
}): Watch => {
  let active = true
  let timer: NodeJS.Timeout | undefined
  const next = (waitMs: number) => {
    timer = setTimeout(() => void tick(), waitMs)
    timer.unref()
  }
  const tick = async () => {
    if (!active) return
    const started = performance.now()
    const over = await options.check().catch(() => undefined)
    if (!active) return
    if (over !== undefined) {
      active = false
      return options.onOver(over)
    }
    const took = performance.now() - started
    next(Math.max(options.everyMs - took, took / busyShare - took))
  }
  next(options.everyMs)
  return {
    cancel: () => {
      active = false
      clearTimeout(timer)
    }
  }
}

/**
 * Polls a running phase's run directory and, given a VRAM budget and an nvidia-smi, the
 * GPU memory of its processes; `stop` gets the first cap found exceeded. Returns the unwatch.
 */
export const watchPhase = (input: {
  readonly roots: ReadonlyArray<string>
  readonly runDirGb: number
  readonly vram?: { readonly nvidiaSmi: string; readonly budgetGb: number }
  readonly members: () => ReadonlyArray<number>
  readonly stop: (over: CapStop) => void
}) => {
  const watches = [
    poll({
      everyMs: RunDirWatch.everyMs,
      check: async () => RunDirWatch.overRunDirCap(await RunDirWatch.diskUsage(input.roots), input.runDirGb),
      onOver: input.stop
    })
  ]
  const vram = input.vram
  if (vram !== undefined) {
    watches.push(poll({
      everyMs: VramWatch.everyMs,
      check: async () => {
        const apps = await VramWatch.computeApps(vram.nvidiaSmi)
        return apps === undefined
          ? undefined
          : VramWatch.overVramBudget(VramWatch.phaseVramGb(apps, new Set(input.members())), vram.budgetGb)
      },
      onOver: input.stop
    }))
  }
  return () => watches.forEach((watching) => watching.cancel())
}
