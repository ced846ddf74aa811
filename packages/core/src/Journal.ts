/**
 * The Journal service: the append-only record of a research run. `journal.jsonl` holds
 * one JSON object per experiment; `results.tsv` is rewritten from it after each append,
 * in the original autoresearch's columns. Beside it, `noise.jsonl` holds each measurement
 * of the noise floor and `verify.jsonl` each verification. A line cut short by a crash is
 * dropped on open.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { MetricSpec } from "./Config.ts"
import { JournalEntry } from "./JournalEntry.ts"
import { beats } from "./KeepRule.ts"
import { NoiseFloor } from "./Noise.ts"
import { Verification } from "./Verification.ts"

export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.file}: ${this.reason}`
  }
}

export class Journal extends Context.Service<Journal, {
  readonly dir: string
  readonly entries: Effect.Effect<ReadonlyArray<JournalEntry>>
  readonly append: (entry: JournalEntry) => Effect.Effect<void, JournalError>
  /** Every noise-floor measurement, oldest first; the last one is in force. */
  readonly noise: Effect.Effect<ReadonlyArray<NoiseFloor>>
  readonly appendNoise: (noise: NoiseFloor) => Effect.Effect<void, JournalError>
  readonly verifications: Effect.Effect<ReadonlyArray<Verification>>
  readonly appendVerification: (verification: Verification) => Effect.Effect<void, JournalError>
}>()("@autoresearch/core/Journal") {
  /** Opens (or creates) the journal in `dir`. */
  static readonly layer = (dir: string, metric: Pick<MetricSpec, "name" | "secondary">) => Layer.effect(Journal, openJournal(dir, metric))
}

/** Reads a JSON-lines file of `schema` values; a trailing line without its newline (a write cut short) is ignored. */
const readLines = <T, E>(schema: Schema.Codec<T, E>, what: string) => {
  const decode = Schema.decodeUnknownSync(Schema.fromJsonString(schema))
  return (file: string): { entries: Array<T>; validBytes: number } => {
    if (!fs.existsSync(file)) return { entries: [], validBytes: 0 }
    const text = fs.readFileSync(file, "utf8")
    const end = text.lastIndexOf("\n") + 1
    const entries = text.slice(0, end).split("\n").flatMap((line, index) => {
      if (line.trim() === "") return []
      try {
        return [decode(line)]
      } catch (error) {
        throw new JournalError({ file, reason: `line ${index + 1} is not ${what}: ${(error as Error).message}` })
      }
    })
    return { entries, validBytes: Buffer.byteLength(text.slice(0, end)) }
  }
}

/** Reads a journal file; a trailing line without its newline (a write cut short) is ignored. */
export const readJournal = readLines(JournalEntry, "a journal entry")
/** Reads `noise.jsonl`: the noise-floor measurements, oldest first. */
export const readNoise = readLines(NoiseFloor, "a noise-floor measurement")
/** Reads `verify.jsonl`: the verifications, oldest first. */
export const readVerifications = readLines(Verification, "a verification")

/** Appends one line and flushes it to disk before returning. */
const appendLine = (file: string, line: string) => {
  const fd = fs.openSync(file, "a")
  try {
    fs.writeSync(fd, line)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Opens a side record (noise, verifications): read once, a cut-short line dropped, then appended to. */
const openSide = <T, E>(file: string, schema: Schema.Codec<T, E>, read: (file: string) => { entries: Array<T>; validBytes: number }) => {
  const { entries, validBytes } = read(file)
  if (fs.existsSync(file) && fs.statSync(file).size !== validBytes) fs.truncateSync(file, validBytes)
  const encode = Schema.encodeSync(schema)
  return {
    all: Effect.sync((): ReadonlyArray<T> => [...entries]),
    append: (value: T) =>
      Effect.try({
        try: () => {
          appendLine(file, JSON.stringify(encode(value)) + "\n")
          entries.push(value)
        },
        catch: (cause) => new JournalError({ file, reason: String(cause) })
      })
  }
}

const cell = (value: number | undefined) => (value === undefined ? "" : Number.isInteger(value) ? String(value) : value.toFixed(6))

/** The results table, as the original autoresearch's `results.tsv`. */
export const resultsTsv = (entries: ReadonlyArray<JournalEntry>, metric: Pick<MetricSpec, "name" | "secondary">): string => {
  const names = [metric.name, ...(metric.secondary ?? [])]
  const header = ["commit", ...names, "memory_gb", "status", "description"].join("\t")
  const rows = entries.map((entry) =>
    [
      entry.commit?.slice(0, 7) ?? "-",
      ...names.map((name) => cell(entry.metrics[name])),
      entry.memoryGb === undefined ? "" : entry.memoryGb.toFixed(1),
      entry.status,
      entry.description.replace(/[\t\r\n]+/g, " ")
    ].join("\t")
  )
  return [header, ...rows].join("\n") + "\n"
}

const writeAtomically = (file: string, content: string) => {
  const temporary = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temporary, content)
  fs.renameSync(temporary, file)
}

export const openJournal = (dir: string, metric: Pick<MetricSpec, "name" | "secondary">) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dir, { recursive: true })
      const file = path.join(dir, "journal.jsonl")
      const { entries, validBytes } = readJournal(file)
      if (fs.existsSync(file) && fs.statSync(file).size !== validBytes) fs.truncateSync(file, validBytes)
      writeAtomically(path.join(dir, "results.tsv"), resultsTsv(entries, metric))
      const noise = openSide(path.join(dir, "noise.jsonl"), NoiseFloor, readNoise)
      const verifications = openSide(path.join(dir, "verify.jsonl"), Verification, readVerifications)
      return Journal.of({
        dir,
        entries: Effect.sync(() => [...entries]),
        noise: noise.all,
        appendNoise: noise.append,
        verifications: verifications.all,
        appendVerification: verifications.append,
        append: (entry) =>
          Effect.try({
            try: () => {
              appendLine(file, JSON.stringify(Schema.encodeSync(JournalEntry)(entry)) + "\n")
              entries.push(entry)
              writeAtomically(path.join(dir, "results.tsv"), resultsTsv(entries, metric))
            },
            catch: (cause) => new JournalError({ file, reason: String(cause) })
          })
      })
    },
    catch: (cause) =>
      cause instanceof JournalError ? cause : new JournalError({ file: path.join(dir, "journal.jsonl"), reason: String(cause) })
  })

/** The kept entry with the best primary metric. */
export const bestEntry = (entries: ReadonlyArray<JournalEntry>, metric: Pick<MetricSpec, "name" | "direction">) =>
  entries.reduce<JournalEntry | undefined>((best, entry) => {
    const value = entry.metrics[metric.name]
    if (entry.status !== "keep" || value === undefined) return best
    if (best === undefined) return entry
    return beats(value, best.metrics[metric.name]!, metric.direction) ? entry : best
  }, undefined)
