/**
 * Numbers an experiment printed about itself, as `name: value` lines (the original
 * autoresearch's summary format). They are kept for comparison and never trusted.
 */
import type { RunResult } from "./RunResult.ts"
import { readRegularFile } from "./SafeRead.ts"

const line = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*[:=]\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf|-inf)\s*$/i

/** The last value printed for each name. */
export const parseReported = (log: string): Record<string, number> => {
  const reported: Record<string, number> = {}
  for (const text of log.split(/\r?\n/)) {
    const match = line.exec(text)
    if (match) reported[match[1]!] = Number(match[2]!.toLowerCase().replace(/^(-?)inf$/, "$1Infinity").replace("nan", "NaN"))
  }
  return reported
}

/**
 * What the train phase printed, from its log as the experiment left it: read without
 * following a link or waiting on a FIFO, its last 8 MiB at most; nothing when unreadable.
 */
export const reportedByTrain = (run: Pick<RunResult, "phases">): Record<string, number> => {
  const log = run.phases.find((phase) => phase.name === "train")?.logPath
  const read = log === undefined ? undefined : readRegularFile(log, 8 << 20, { fromEnd: true })
  return read?._tag === "Text" ? parseReported(read.text) : {}
}
