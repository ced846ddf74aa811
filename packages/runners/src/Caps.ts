/**
 * The hard caps on a phase, as pure decisions: how much host memory, how many processes
 * and how large a run directory it may have, and how the runner enforces the first two
 * on this host (a cgroup v2, a cgroup v1, prlimit's rlimits, or nothing), chosen from
 * facts the runner detected once. `Cgroup` does the I/O; the watches poll the rest.
 */

/** GB as everywhere in the runner: 10^9 bytes. */
export const bytesPerGb = 1e9

export interface CapOptions {
  /** Host memory (GB) a phase may use (default three quarters of the host's RAM). */
  readonly memoryGb?: number | undefined
  /** Processes and threads a phase may have at once (default 4096). */
  readonly maxProcesses?: number | undefined
  /** Size (GB) the run directory may reach while a phase runs (default 20). */
  readonly runDirGb?: number | undefined
}

export interface PhaseCaps {
  readonly memoryGb: number
  readonly maxProcesses: number
  readonly runDirGb: number
}

export const defaultMaxProcesses = 4096
export const defaultRunDirGb = 20

/** The caps a phase runs under: what the options say, else the defaults for a host with `totalMemoryBytes` of RAM. */
export const resolveCaps = (options: CapOptions, totalMemoryBytes: number): PhaseCaps => ({
  memoryGb: options.memoryGb ?? (0.75 * totalMemoryBytes) / bytesPerGb,
  maxProcesses: options.maxProcesses ?? defaultMaxProcesses,
  runDirGb: options.runDirGb ?? defaultRunDirGb
})

/** A size in GB for a reason or a warning: three significant digits, no trailing zeros (20, 0.2, 3.15). */
export const formatGb = (gb: number): string => String(Number(gb.toPrecision(3)))

/** Whether a cgroup hierarchy is usable here: where phases' cgroups go, or why not. */
export type CgroupProbe<A> = ({ readonly usable: true } & A) | { readonly usable: false; readonly problem: string }

/** What the runner found out about this host, once, before its first phase. */
export interface CapFacts {
  readonly platform: string
  /** The runner runs as root (RLIMIT_NPROC does not bind root). */
  readonly root: boolean
  /** A cgroup v2 under which a child gets the memory and pids controllers and takes a process of ours. */
  readonly cgroup2: CgroupProbe<{ readonly parent: string }>
  /** The cgroup v1 memory and pids directories under which the same holds. */
  readonly cgroup1: CgroupProbe<{ readonly memory: string; readonly pids: string }>
  /** util-linux's prlimit, where it runs. */
  readonly prlimit: string | undefined
}

/** How the memory and process caps are enforced; `warning` says what is weaker than a cgroup, and why. */
export type Enforcement =
  | { readonly method: "cgroup2"; readonly parent: string; readonly prlimit: string | undefined }
  | { readonly method: "cgroup1"; readonly memory: string; readonly pids: string; readonly prlimit: string | undefined }
  | { readonly method: "prlimit"; readonly prlimit: string; readonly warning: string }
  | { readonly method: "none"; readonly warning: string }

const noCgroup = (facts: CapFacts) =>
  facts.platform !== "linux"
    ? `cgroups need Linux, not ${facts.platform}`
    : `no cgroup could be made for a phase (v2: ${facts.cgroup2.usable ? "usable" : facts.cgroup2.problem}; ` +
      `v1: ${facts.cgroup1.usable ? "usable" : facts.cgroup1.problem})`

/** The strongest enforcement the facts allow: cgroup v2, then v1, then prlimit, then none. */
export const chooseEnforcement = (facts: CapFacts): Enforcement => {
  if (facts.cgroup2.usable) return { method: "cgroup2", parent: facts.cgroup2.parent, prlimit: facts.prlimit }
  if (facts.cgroup1.usable) {
    return { method: "cgroup1", memory: facts.cgroup1.memory, pids: facts.cgroup1.pids, prlimit: facts.prlimit }
  }
  const why = noCgroup(facts)
  if (facts.prlimit !== undefined) {
    return {
      method: "prlimit",
      prlimit: facts.prlimit,
      warning: `WEAKER CAPS: ${why}, so the memory and process caps are rlimits (prlimit): the memory cap bounds ` +
        `each process's address space, not the phase's total, and is not set for a phase with a GPU (CUDA reserves ` +
        `more address space than memory); the process cap counts every process of the user` +
        (facts.root ? " and does not bind root at all" : "") +
        `. Run as root or delegate the memory and pids controllers (systemd: Delegate=yes) for hard caps`
    }
  }
  return {
    method: "none",
    warning: `UNCAPPED: ${why}, and prlimit is not there either, so this phase ran without memory or process caps ` +
      `(the run-directory and VRAM watches still apply)`
  }
}

/** The rlimits a phase's first process gets (bytes, or a count); absent: not set. */
export interface Rlimits {
  readonly addressSpace?: number
  readonly processes?: number
  readonly fileSize?: number
}

/**
 * The rlimits for a phase. Under a cgroup only the per-file backstop for the run-directory
 * cap, for a phase that writes nowhere else (the prepare phase's data cache may hold larger
 * files); otherwise also the address space (not with a GPU) and the user's processes:
 * those it runs already (`userTasks`) plus the cap, since RLIMIT_NPROC counts them all.
 */
export const phaseRlimits = (input: {
  readonly method: Enforcement["method"]
  readonly caps: PhaseCaps
  readonly withGpus: boolean
  /** The phase may write outside its run directory (the loop granted it more writable paths). */
  readonly writesElsewhere: boolean
  readonly userTasks: number
}): { readonly limits: Rlimits; readonly warnings: ReadonlyArray<string> } => {
  const fileSize = input.writesElsewhere ? {} : { fileSize: Math.max(1, Math.floor(input.caps.runDirGb * bytesPerGb)) }
  if (input.method !== "prlimit") return { limits: fileSize, warnings: [] }
  return {
    limits: {
      ...(input.withGpus ? {} : { addressSpace: Math.floor(input.caps.memoryGb * bytesPerGb) }),
      processes: input.userTasks + input.caps.maxProcesses,
      ...fileSize
    },
    warnings: input.withGpus
      ? [`the host memory cap of ${formatGb(input.caps.memoryGb)} GB was not applied: without a cgroup it is an ` +
        `address-space limit, which a CUDA process exceeds at start-up`]
      : []
  }
}

/** `prlimit --as=... --nproc=... --fsize=... --`, or nothing when no limit is set or prlimit is missing. */
export const prlimitArgv = (prlimit: string | undefined, limits: Rlimits): Array<string> => {
  const flags = [
    ...(limits.addressSpace === undefined ? [] : [`--as=${limits.addressSpace}`]),
    ...(limits.processes === undefined ? [] : [`--nproc=${limits.processes}`]),
    ...(limits.fileSize === undefined ? [] : [`--fsize=${limits.fileSize}`])
  ]
  return prlimit === undefined || flags.length === 0 ? [] : [prlimit, ...flags, "--"]
}

/** The exit code of the wrapper when it cannot move itself into the phase's cgroup. */
export const cgroupEntryFailed = 125

/**
 * A shell that writes its own PID into each `cgroup.procs` file, then execs the rest of
 * the argv: the phase's first instruction already runs inside its cgroup, so nothing it
 * forks can start outside, and its PID (the one the runner spawned) stays the same.
 */
export const enterCgroupArgv = (procsFiles: ReadonlyArray<string>): Array<string> =>
  procsFiles.length === 0 ? [] : [
    "/bin/sh",
    "-c",
    `while [ "$1" != -- ]; do echo $$ > "$1" || { echo "autoresearch: cannot enter the phase's cgroup ($1)" >&2; ` +
    `exit ${cgroupEntryFailed}; }; shift; done; shift; exec "$@"`,
    "autoresearch-cgroup",
    ...procsFiles,
    "--"
  ]
