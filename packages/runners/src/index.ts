/**
 * @autoresearch/runners: ways to run an experiment's phases. `LocalRunner` runs them as
 * local subprocesses with hard wall-clock limits, hard memory, process, disk and VRAM
 * caps, a bubblewrap sandbox where the platform allows, failure triage and a GPU pool.
 */
export * as BoundedLog from "./BoundedLog.ts"
export * as Caps from "./Caps.ts"
export * as Cgroup from "./Cgroup.ts"
export * as GpuPool from "./GpuPool.ts"
export * as Homes from "./Homes.ts"
export * as LocalRunner from "./LocalRunner.ts"
export * as MetricsFile from "./MetricsFile.ts"
export * as PhaseEnv from "./PhaseEnv.ts"
export * as PhaseLimits from "./PhaseLimits.ts"
export * as PhaseProcess from "./PhaseProcess.ts"
export * as RunDirWatch from "./RunDirWatch.ts"
/** The runner contract as checks to run a runner against (LocalRunner passes them; so should yours). */
export * as RunnerContract from "./RunnerContract.ts"
export * as Sandbox from "./Sandbox.ts"
/** Each phase as a Slurm batch job, run on its node through LocalRunner. */
export * as SlurmRunner from "./SlurmRunner.ts"
export * as Triage from "./Triage.ts"
export * as VramWatch from "./VramWatch.ts"
export * as Watch from "./Watch.ts"
/** Finding and killing a phase's processes, and those a killed runner left: in core, where trusted commands use them too. */
export { Orphans, ProcessTree } from "@autoresearch/core"
