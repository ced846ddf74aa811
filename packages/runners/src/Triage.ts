/**
 * Triage, as a pure function: from how a phase ended and the tail of its log, the run
 * status and a one-line reason a human (or a proposer) can act on.
 */
import type { RunStatus } from "@autoresearch/core"

export interface PhaseEnd {
  readonly phase: string
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly interrupted: boolean
  readonly timeoutSeconds: number
  readonly logTail: string
}

const oomPatterns = [/CUDA out of memory/i, /OutOfMemoryError/, /\bMemoryError\b/, /Cannot allocate memory/i, /std::bad_alloc/]

/** The last line of a Python traceback (`ValueError: ...`), if the log ends in one. */
export const tracebackLine = (log: string): string | undefined => {
  const lines = log.split("\n").map((line) => line.trimEnd()).filter((line) => line !== "")
  const start = lines.findLastIndex((line) => line.startsWith("Traceback (most recent call last)"))
  if (start === -1) return undefined
  return lines.slice(start + 1).reverse().find((line) => !line.startsWith(" ") && !line.startsWith("\t"))
}

export const triage = (end: PhaseEnd): { status: RunStatus; reason?: string } => {
  if (end.interrupted) return { status: "killed", reason: `${end.phase} interrupted` }
  if (end.timedOut) return { status: "timeout", reason: `${end.phase} exceeded its ${end.timeoutSeconds} s limit and was killed` }
  if (end.exitCode === 0 && end.signal === null) return { status: "ok" }
  const traceback = tracebackLine(end.logTail)
  const how = end.signal !== null ? `killed by ${end.signal}` : `exit code ${end.exitCode}`
  const oom = oomPatterns.find((pattern) => pattern.test(end.logTail))
  if (oom !== undefined) {
    return { status: "oom", reason: `${end.phase} ran out of memory (${how})${traceback ? `: ${traceback}` : ""}` }
  }
  if (end.exitCode === 137 || end.signal === "SIGKILL") {
    return { status: "oom", reason: `${end.phase} was killed (${how}), most likely by the out-of-memory killer` }
  }
  return { status: "crash", reason: `${end.phase} failed (${how})${traceback ? `: ${traceback}` : ""}` }
}
