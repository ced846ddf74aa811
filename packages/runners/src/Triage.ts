/**
 * Triage, as a pure function: from how a phase ended, the tail of its log, what it wrote
 * and what it reported, and what its caps saw, the run status, a one-line reason a human
 * (or a proposer) can act on, and the journal's flags. The runner gathers the facts; this
 * module decides what they mean.
 */
import type { CapFlag, RunStatus } from "@autoresearch/core"
import * as os from "node:os"
import { formatGb } from "./Caps.ts"

/** A cap the runner polls, which it stopped the phase for. */
export type CapStop =
  | {
    readonly cap: "run-dir"
    readonly usedGb: number
    readonly capGb: number
    /** Set when the phase made more files than a walk of its run directory takes. */
    readonly tooManyFiles?: number
  }
  | {
    readonly cap: "vram"
    /** What nvidia-smi measured for the phase's processes. */
    readonly usedGb: number
    readonly budgetGb: number
    /** What the watch allows beyond the budget (the CUDA context, which the phase's own cap does not count). */
    readonly allowanceGb: number
  }

/** The caps a phase ran under, and what the kernel counted against them. */
export interface CapsSeen {
  /** The runner killed the phase for a cap it polls. */
  readonly stoppedFor?: CapStop
  readonly memory?: {
    readonly capGb: number
    /** `cgroup`: the phase's total; `address-space`: each process's, as an rlimit. */
    readonly enforcedBy: "cgroup" | "address-space"
    /** OOM kills in the phase's cgroup; absent where the kernel does not count them. */
    readonly oomKills?: number
    /** Times the cgroup hit its limit (reclaim or a kill). */
    readonly limitHits?: number
  }
  readonly processes?: {
    readonly cap: number
    readonly enforcedBy: "cgroup" | "rlimit"
    /** Forks the cgroup refused. */
    readonly forksRefused?: number
  }
  /** The per-file size limit (RLIMIT_FSIZE) backing the run-directory cap, in GB. */
  readonly fileSizeGb?: number
}

export interface PhaseEnd {
  readonly phase: string
  readonly exitCode: number | null
  readonly signal: string | null
  /** The runner killed it at its time limit. */
  readonly timedOut: boolean
  /** The runner killed it because the run was interrupted. */
  readonly interrupted: boolean
  readonly timeoutSeconds: number
  readonly logTail: string
  /**
   * The exit code came through a sandbox that reports a signal as 128 + its number
   * (bubblewrap does), so 137 means SIGKILL rather than `exit(137)`.
   */
  readonly signalAsExitCode?: boolean
  /**
   * Expected artifacts (relative to the run directory) that are missing, empty, or not a
   * regular file (`predictions.npy is a symbolic link`): a scorer must never follow one.
   */
  readonly artifacts?: {
    readonly missing: ReadonlyArray<string>
    readonly empty: ReadonlyArray<string>
    readonly refused?: ReadonlyArray<string>
  }
  /** Numbers the phase reported (log lines and metrics file), NaN and infinities included. */
  readonly reported?: Readonly<Record<string, number>>
  readonly caps?: CapsSeen
}

export interface Verdict {
  readonly status: RunStatus
  readonly reason?: string
  /** For the journal: which cap ended the phase (`memory-cap`, `pids-cap`, `disk-full`, `vram-exceeded`). */
  readonly flags?: ReadonlyArray<CapFlag>
}

const oomPatterns = [
  /CUDA out of memory/i,
  /\bOutOfMemoryError\b/,
  /CUDA error: out of memory/i,
  /CUBLAS_STATUS_ALLOC_FAILED/,
  /\bMemoryError\b/,
  /Cannot allocate memory/i,
  /std::bad_alloc/,
  /MPS backend out of memory/i
]

/** What a process prints when it cannot fork or start a thread. */
const forkFailurePatterns = [
  /\bBlockingIOError\b/,
  /Resource temporarily unavailable/i,
  /can't start new thread/i,
  /fork: retry/i,
  /Cannot fork/i,
  /\bEAGAIN\b/
]

/** What a process prints when a write goes past RLIMIT_FSIZE (Python ignores SIGXFSZ and gets EFBIG). */
const fileTooLargePatterns = [/File too large/i, /\bEFBIG\b/, /\[Errno 27\]/]

/** Signals a person or a supervisor sends to stop a process, as opposed to a crash or the OOM killer. */
const stopSignals = new Set(["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"])

const lines = (log: string) => log.split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line !== "")

/** The last line of a Python traceback (`ValueError: ...`), if the log ends in one. */
export const tracebackLine = (log: string): string | undefined => {
  const all = lines(log)
  const start = all.findLastIndex((line) => line.startsWith("Traceback (most recent call last)"))
  if (start === -1) return undefined
  return all.slice(start + 1).reverse().find((line) => !line.startsWith(" ") && !line.startsWith("\t"))
}

/**
 * bubblewrap's own complaint that the phase's command is not there to run
 * (`bwrap: execvp /tmp/wrap.sh: No such file or directory`), as the path and the error;
 * it is the last line of a log, since nothing of the phase ran after it.
 */
export const sandboxExecFailure = (log: string): { readonly command: string; readonly error: string } | undefined => {
  const match = /^bwrap: execvp (.+): ([^:]+)$/.exec(lines(log).at(-1) ?? "")
  return match === null ? undefined : { command: match[1]!, error: match[2]! }
}

/** Why a command the host has is missing in the sandbox, and the two ways out. */
const sandboxExecReason = (phase: string, failure: { readonly command: string; readonly error: string }) =>
  `${phase} could not start ${failure.command} in the sandbox (bwrap: execvp: ${failure.error}). A sandboxed phase ` +
  "sees the root file system read-only, with /tmp a fresh empty tmpfs and your home (and /root) emptied except its " +
  "working directory, its readable paths and the interpreter's installation; keep the command in the research " +
  "directory or a system folder, or add its folder to LocalRunner's `readable` option"

/** The signal name behind an exit code of 128 + n, e.g. 137 -> SIGKILL. */
export const signalOfExitCode = (code: number): string | undefined => {
  if (code <= 128 || code >= 128 + 65) return undefined
  const entry = Object.entries(os.constants.signals).find(([, number]) => number === code - 128)
  return entry?.[0]
}

/** The first reported value whose name says it is a loss and that is not a finite number. */
export const nonFiniteLoss = (reported: Readonly<Record<string, number>>): [string, number] | undefined =>
  Object.entries(reported).find(([name, value]) => /loss/i.test(name) && !Number.isFinite(value))

const oneLine = (text: string, max = 200) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/** The traceback's last line or one of the log's last lines that matches, if one does. */
const logSays = (log: string, patterns: ReadonlyArray<RegExp>) => {
  const traceback = tracebackLine(log)
  const last = lines(log).slice(-20)
  return [...(traceback === undefined ? [] : [traceback]), ...last].find((line) => patterns.some((pattern) => pattern.test(line)))
}

/** The verdict on a phase the runner stopped for a polled cap. */
const stopped = (phase: string, stop: CapStop): Verdict =>
  stop.cap === "run-dir"
    ? {
      status: "killed",
      reason: stop.tooManyFiles !== undefined
        ? `${phase} made more than ${stop.tooManyFiles} files in its run directory and was killed (run-directory cap)`
        : `${phase} wrote ${formatGb(stop.usedGb)} GB into its run directory, over its run-directory cap of ` +
          `${formatGb(stop.capGb)} GB, and was killed`,
      flags: ["disk-full"]
    }
    : {
      status: "oom",
      reason: `${phase} used ${formatGb(stop.usedGb)} GB of GPU memory (measured by nvidia-smi), over its VRAM budget of ` +
        `${formatGb(stop.budgetGb)} GB (+${formatGb(stop.allowanceGb)} GB for the CUDA context), and was killed`,
      flags: ["vram-exceeded"]
    }

/** The verdict on a failed phase that one of its caps explains, if one does. */
const capFailure = (end: PhaseEnd, signal: string | null, how: string): Verdict | undefined => {
  const caps = end.caps
  if (caps === undefined) return undefined
  const memory = caps.memory
  const killed = signal === "SIGKILL" || end.exitCode === 137
  // Old v1 kernels count no OOM kills: a hit limit and a SIGKILL say the same.
  const oomKilled = (memory?.oomKills ?? 0) > 0 || (memory?.oomKills === undefined && (memory?.limitHits ?? 0) > 0 && killed)
  if (memory?.enforcedBy === "cgroup" && oomKilled) {
    return {
      status: "oom",
      reason: `${end.phase} was killed by the out-of-memory killer at its host memory cap of ${formatGb(memory.capGb)} GB (${how})`,
      flags: ["memory-cap"]
    }
  }
  if (caps.fileSizeGb !== undefined && (signal === "SIGXFSZ" || logSays(end.logTail, fileTooLargePatterns) !== undefined)) {
    return {
      status: "killed",
      reason: `${end.phase} tried to write a file larger than its run-directory cap of ${formatGb(caps.fileSizeGb)} GB (${how})`,
      flags: ["disk-full"]
    }
  }
  const processes = caps.processes
  const forkFailure = logSays(end.logTail, forkFailurePatterns)
  const refused = (processes?.forksRefused ?? 0) > 0 || (processes?.enforcedBy === "rlimit" && forkFailure !== undefined)
  if (processes !== undefined && refused) {
    const detail = forkFailure ?? tracebackLine(end.logTail)
    return {
      status: "crash",
      reason: oneLine(
        `${end.phase} hit its cap of ${processes.cap} processes and threads (${how})${detail === undefined ? "" : `: ${detail}`}`
      ),
      flags: ["pids-cap"]
    }
  }
  return undefined
}

/** Where a phase that ran out of memory ran under an address-space limit, the words that say so. */
const addressSpaceNote = (end: PhaseEnd) =>
  end.caps?.memory?.enforcedBy === "address-space"
    ? ` (host memory cap of ${formatGb(end.caps.memory.capGb)} GB per process, as an address-space limit)`
    : ""

export const triage = (end: PhaseEnd): Verdict => {
  if (end.interrupted) return { status: "killed", reason: `${end.phase} was stopped because the run was interrupted` }
  if (end.caps?.stoppedFor !== undefined) return stopped(end.phase, end.caps.stoppedFor)
  if (end.timedOut) {
    return { status: "timeout", reason: `${end.phase} exceeded its ${end.timeoutSeconds} s limit and was killed` }
  }
  const derived = end.signal === null && end.signalAsExitCode === true && end.exitCode !== null
    ? signalOfExitCode(end.exitCode)
    : undefined
  const signal = end.signal ?? derived ?? null
  const how = end.signal !== null
    ? `killed by ${end.signal}`
    : derived !== undefined
    ? `killed by ${derived}, exit code ${end.exitCode}`
    : `exit code ${end.exitCode}`
  if (end.exitCode !== 0 || end.signal !== null) {
    const capped = capFailure(end, signal, how)
    if (capped !== undefined) return capped
    const notFound = end.signalAsExitCode === true ? sandboxExecFailure(end.logTail) : undefined
    if (notFound !== undefined) return { status: "crash", reason: sandboxExecReason(end.phase, notFound) }
    const traceback = tracebackLine(end.logTail)
    const oom = logSays(end.logTail, oomPatterns)
    if (oom !== undefined) {
      return { status: "oom", reason: oneLine(`${end.phase} ran out of memory (${how})${addressSpaceNote(end)}: ${oom}`) }
    }
    if (signal === "SIGKILL" || end.exitCode === 137) {
      return { status: "oom", reason: `${end.phase} was killed (${how}), most likely by the kernel's out-of-memory killer` }
    }
    if (signal !== null && stopSignals.has(signal)) {
      return { status: "killed", reason: `${end.phase} was stopped from outside (${how})` }
    }
    return { status: "crash", reason: oneLine(`${end.phase} failed (${how})${traceback ? `: ${traceback}` : ""}`) }
  }
  const loss = nonFiniteLoss(end.reported ?? {})
  if (loss !== undefined) {
    return { status: "crash", reason: `${end.phase} reported a non-finite loss (${loss[0]}: ${loss[1]})` }
  }
  const missing = end.artifacts?.missing ?? []
  if (missing.length > 0) {
    return { status: "crash", reason: `${end.phase} exited 0 but did not write ${missing.join(", ")}` }
  }
  const refused = end.artifacts?.refused ?? []
  if (refused.length > 0) {
    return { status: "crash", reason: `${end.phase} exited 0 but left ${refused.join(", ")}, not a regular file` }
  }
  const empty = end.artifacts?.empty ?? []
  if (empty.length > 0) {
    return { status: "crash", reason: `${end.phase} exited 0 but wrote an empty ${empty.join(", ")}` }
  }
  return { status: "ok" }
}
