/**
 * The Journal service: the append-only record of a research run. `journal.jsonl` holds
 * one JSON object per experiment; `results.tsv` is rewritten from it after each append,
 * in the original autoresearch's columns. A line cut short by a crash is dropped on open.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { MetricSpec } from "./Config.ts"
import { JournalEntry } from "./JournalEntry.ts"
import { beats } from "./KeepRule.ts"

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
}>()("@autoresearch/core/Journal") {
  /** Opens (or creates) the journal in `dir`. */
  static readonly layer = (dir: string, metric: Pick<MetricSpec, "name" | "secondary">) => Layer.effect(Journal, openJournal(dir, metric))
}

const decodeEntry = Schema.decodeUnknownSync(Schema.fromJsonString(JournalEntry))

/** Reads a journal file; a trailing line without its newline (a write cut short) is ignored. */
export const readJournal = (file: string): { entries: Array<JournalEntry>; validBytes: number } => {
  if (!fs.existsSync(file)) return { entries: [], validBytes: 0 }
  const text = fs.readFileSync(file, "utf8")
  const end = text.lastIndexOf("\n") + 1
  const entries = text.slice(0, end).split("\n").flatMap((line, index) => {
    if (line.trim() === "") return []
    try {
      return [decodeEntry(line)]
    } catch (error) {
      throw new JournalError({ file, reason: `line ${index + 1} is not a journal entry: ${(error as Error).message}` })
    }
  })
  return { entries, validBytes: Buffer.byteLength(text.slice(0, end)) }
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
      return Journal.of({
        dir,
        entries: Effect.sync(() => [...entries]),
        append: (entry) =>
          Effect.try({
            try: () => {
              const line = JSON.stringify(Schema.encodeSync(JournalEntry)(entry)) + "\n"
              const fd = fs.openSync(file, "a")
              try {
                fs.writeSync(fd, line)
                fs.fsyncSync(fd)
              } finally {
                fs.closeSync(fd)
              }
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
