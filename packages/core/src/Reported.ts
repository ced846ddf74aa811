/**
 * Numbers an experiment printed about itself, as `name: value` lines (the original
 * autoresearch's summary format). They are kept for comparison and never trusted.
 */

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
