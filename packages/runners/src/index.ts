/**
 * @autoresearch/runners: ways to run an experiment's phases. `LocalRunner` runs them as
 * local subprocesses with hard wall-clock limits.
 */
export * as LocalRunner from "./LocalRunner.ts"
export * as Triage from "./Triage.ts"
