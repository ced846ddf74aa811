/**
 * Triage, as a pure function: from how a phase ended, the tail of its log, what it wrote
 * and what it reported, the run status and a one-line reason a human (or a proposer) can
 * act on. The runner gathers the facts; this module decides what they mean.
 */
import type { RunStatus } from "@autoresearch/core"
import * as os from "node:os"

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
}

export interface Verdict {
  readonly status: RunStatus
  readonly reason?: string
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

/** The signal name behind an exit code of 128 + n, e.g. 137 -> SIGKILL. */
export const signalOfExitCode = (code: number): string | undefined => {
  if (code <= 128 || code >= 128 + 65) return undefined
  const entry = Object.entries(os.constants.signals).find(([, number]) => number === code - 128)
  return entry?.[0]
}

/** The first reported value whose name says it is a loss and that is not a finite number. */
export const nonFiniteLoss = (reported: Readonly<Record<string, number>>): [string, number] | undefined =>
  Object.entries(reported).find(([name, value]) => /loss/i.test(name) && !Number.isFinite(value))

const oomText = (log: string): string | undefined => {
  const traceback = tracebackLine(log)
  const last = lines(log).slice(-20)
  const candidates = traceback === undefined ? last : [traceback, ...last]
  return candidates.find((line) => oomPatterns.some((pattern) => pattern.test(line)))
}

const oneLine = (text: string, max = 200) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

export const triage = (end: PhaseEnd): Verdict => {
  if (end.interrupted) return { status: "killed", reason: `${end.phase} was stopped because the run was interrupted` }
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
    const traceback = tracebackLine(end.logTail)
    const oom = oomText(end.logTail)
    if (oom !== undefined) return { status: "oom", reason: oneLine(`${end.phase} ran out of memory (${how}): ${oom}`) }
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
