/**
 * The VRAM budget, enforced from outside: the GPU memory nvidia-smi reports for the
 * processes of a phase (host PIDs, summed over all of them), and whether that is over the
 * budget. The runner polls it while the phase runs and kills the phase the first time it
 * is, whatever the phase's own `set_per_process_memory_fraction` did or did not do.
 */
import { Command } from "@autoresearch/core"
import { Effect } from "effect"
import { bytesPerGb } from "./Caps.ts"
import type { CapStop } from "./Triage.ts"

export const computeAppsQuery = ["--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"]

/** How often nvidia-smi is asked while a phase runs. */
export const everyMs = 2000

/**
 * Allowed above the budget: the CUDA context and library handles, which nvidia-smi counts
 * and torch's per-process fraction (the phase's own cap) does not.
 */
export const contextAllowanceGb = 1

export interface ComputeApp {
  readonly pid: number
  /** MiB, as nvidia-smi reports it. */
  readonly usedMb: number
}

/** Parses `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`; rows without numbers (`[N/A]`) are dropped. */
export const parseComputeApps = (csv: string): Array<ComputeApp> =>
  csv.split(/\r?\n/).flatMap((line) => {
    const [pid, used] = line.split(",").map((field) => field.trim())
    if (pid === undefined || used === undefined || !/^\d+$/.test(pid) || !/^\d+(\.\d+)?$/.test(used)) return []
    return [{ pid: Number(pid), usedMb: Number(used) }]
  })

/** The GPU memory (GB) of the processes in `members`, over every GPU they use. */
export const phaseVramGb = (apps: ReadonlyArray<ComputeApp>, members: ReadonlySet<number>): number =>
  apps.filter((app) => members.has(app.pid)).reduce((sum, app) => sum + app.usedMb * 1024 * 1024, 0) / bytesPerGb

/** The stop for a phase using `usedGb` of GPU memory on a budget of `budgetGb`, if it is over it. */
export const overVramBudget = (usedGb: number, budgetGb: number): CapStop | undefined =>
  usedGb > budgetGb + contextAllowanceGb
    ? { cap: "vram", usedGb, budgetGb, allowanceGb: contextAllowanceGb }
    : undefined

/** What nvidia-smi reports now; undefined when it fails (a sample is skipped, not taken for zero). */
export const computeApps = async (nvidiaSmi: string): Promise<Array<ComputeApp> | undefined> => {
  const output = await Effect.runPromise(Effect.option(Command.run(nvidiaSmi, computeAppsQuery, { timeoutMs: 10_000 })))
  return output._tag === "Some" && Command.succeeded(output.value) ? parseComputeApps(output.value.stdout) : undefined
}
