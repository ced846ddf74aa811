/**
 * What the loop hands a runner: the candidate's working directory, its run directory,
 * and the phases to run in order, each with its own time limit, environment and the
 * paths it may read or write. Paths in `hidden` must not be visible to any phase.
 */

export interface Phase {
  readonly name: string
  /** Full argv, interpreter included. */
  readonly command: ReadonlyArray<string>
  readonly timeoutSeconds: number
  /** `AUTORESEARCH_*` variables for this phase; the runner adds its own allowlisted ones. */
  readonly env: Readonly<Record<string, string>>
  /** Paths outside the working directory the phase may read. */
  readonly readable: ReadonlyArray<string>
  /** Paths the phase may write; the run directory is always writable. */
  readonly writable: ReadonlyArray<string>
}

export interface Experiment {
  /** The experiment's number in the journal, or a name such as `prepare`. */
  readonly id: string
  /** The research directory inside the candidate's checkout. */
  readonly workdir: string
  readonly runDir: string
  readonly seed: number
  readonly phases: ReadonlyArray<Phase>
  /** Paths no phase may see (held-out targets, the repository's .git). */
  readonly hidden: ReadonlyArray<string>
}
