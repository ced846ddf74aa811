/**
 * What a run reports about itself besides its logs: a flat JSON object of numbers in
 * `metrics.json` in the run directory, named by `AUTORESEARCH_METRICS_FILE`, that the
 * phases add to (prepare.py's helper writes it, e.g. `{"peak_vram_gb": 11.2, "steps": 900}`). Python's `json` writes NaN and Infinity
 * as bare words, so they are read as numbers here. Never trusted for scoring: the
 * runner reads peak memory and non-finite losses from it, nothing else.
 */
import { Schema } from "effect"
import { readRegularFile } from "@autoresearch/core"

const maxBytes = 1 << 20

const FlatObject = Schema.Record(Schema.String, Schema.Unknown)
const decodeFlat = Schema.decodeUnknownOption(FlatObject)

/** Replaces Python's bare NaN, Infinity and -Infinity outside strings by tagged strings JSON can carry. */
const quoteNonFinite = (text: string) => {
  let out = ""
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!
    if (inString) {
      out += char
      if (char === "\\") out += text[++i] ?? ""
      else if (char === "\"") inString = false
      continue
    }
    if (char === "\"") inString = true
    const word = ["-Infinity", "Infinity", "NaN"].find((candidate) => text.startsWith(candidate, i))
    if (word !== undefined) {
      out += `"\\u0000${word}"`
      i += word.length - 1
      continue
    }
    out += char
  }
  return out
}

/** The numbers in a metrics file's text; anything that is not a flat object of numbers is ignored. */
export const parseMetrics = (text: string): Record<string, number> => {
  let value: unknown
  try {
    value = JSON.parse(quoteNonFinite(text), (_key, item: unknown) =>
      typeof item === "string" && item.startsWith("\u0000") ? Number(item.slice(1)) : item)
  } catch {
    return {}
  }
  const object = decodeFlat(value)
  if (object._tag === "None" || Array.isArray(value)) return {}
  return Object.fromEntries(Object.entries(object.value).filter((entry): entry is [string, number] => typeof entry[1] === "number"))
}

/**
 * Reads a metrics file if the phase wrote one (up to 1 MiB of it). A FIFO, a symbolic
 * link or anything else that is not a regular file is not opened: `refused` says why.
 */
export const readMetrics = (file: string): { readonly metrics: Record<string, number>; readonly refused?: string } => {
  const read = readRegularFile(file, maxBytes)
  if (read._tag === "Text") return { metrics: parseMetrics(read.text) }
  return read._tag === "Refused" ? { metrics: {}, refused: read.reason } : { metrics: {} }
}

/**
 * Peak GPU memory in GB over everything reported: `peak_vram_gb`, `peak_memory_gb`,
 * `peak_vram_mb` (the original autoresearch's), and per-phase names ending in them
 * (`predict_peak_vram_gb`).
 */
export const peakVramGb = (reported: Readonly<Record<string, number>>): number | undefined => {
  const values = Object.entries(reported).flatMap(([name, value]) => {
    if (!Number.isFinite(value) || value < 0) return []
    if (/(^|_)peak_(vram|memory)_gb$/.test(name)) return [value]
    if (/(^|_)peak_vram_mb$/.test(name)) return [value / 1000]
    return []
  })
  return values.length === 0 ? undefined : Math.max(...values)
}
