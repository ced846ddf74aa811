/**
 * The Journal service: the append-only record of a research run. `journal.jsonl` holds
 * one JSON object per experiment; `results.tsv` is rewritten from it after each append,
 * in the original autoresearch's columns. Beside it, `noise.jsonl` holds each measurement
 * of the noise floor, `verify.jsonl` each verification and `started.jsonl` each experiment
 * handed to a parallel worker. A last line cut short by a
 * crash is dropped on open, and kept beside the file (`journal.jsonl.dropped-<line>`);
 * the service says what it dropped. results.tsv's temporary files left by dead processes
 * are removed.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { MetricSpec } from "./Config.ts"
import { JournalEntry, StartedEntry } from "./JournalEntry.ts"
import { beats } from "./KeepRule.ts"
import { NoiseFloor } from "./Noise.ts"
import { isAlive } from "./Process.ts"
import { replaceSynced, writeSynced } from "./SyncedFile.ts"
import { Verification } from "./Verification.ts"

export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.file}: ${this.reason}`
  }
}

/** A last line dropped on open because it was cut short, and where a copy of it is kept. */
export interface Dropped {
  readonly file: string
  /** Its line number in the file. */
  readonly line: number
  readonly bytes: number
  readonly copy: string
}

export class Journal extends Context.Service<Journal, {
  readonly dir: string
  /** The lines cut short that opening the journal dropped (from journal.jsonl, noise.jsonl, verify.jsonl). */
  readonly dropped: ReadonlyArray<Dropped>
  readonly entries: Effect.Effect<ReadonlyArray<JournalEntry>>
  readonly append: (entry: JournalEntry) => Effect.Effect<void, JournalError>
  /** Every noise-floor measurement, oldest first; the last one is in force. */
  readonly noise: Effect.Effect<ReadonlyArray<NoiseFloor>>
  readonly appendNoise: (noise: NoiseFloor) => Effect.Effect<void, JournalError>
  readonly verifications: Effect.Effect<ReadonlyArray<Verification>>
  readonly appendVerification: (verification: Verification) => Effect.Effect<void, JournalError>
  /** Experiments handed to a worker (parallel runs), in order; those not in `entries` were in flight. */
  readonly started: Effect.Effect<ReadonlyArray<StartedEntry>>
  readonly appendStarted: (started: StartedEntry) => Effect.Effect<void, JournalError>
}>()("@autoresearch/core/Journal") {
  /** Opens (or creates) the journal in `dir`. */
  static readonly layer = (dir: string, metric: Pick<MetricSpec, "name" | "secondary">) => Layer.effect(Journal, openJournal(dir, metric))
}

/** A last line without its newline: a write cut short by a crash or a power loss. */
export interface CutShort {
  readonly line: number
  readonly bytes: Uint8Array
}

/** What reading a JSON-lines file of the journal (journal.jsonl, noise.jsonl, verify.jsonl) found. */
export interface JournalLines<T> {
  readonly entries: Array<T>
  /** Bytes up to the end of the last complete line. */
  readonly validBytes: number
  /** Present only when the file ends in a line without its newline. */
  readonly cutShort?: CutShort
}

/**
 * Parses the bytes of a JSON-lines file of `schema` values. A trailing line without its
 * newline is not parsed but returned as cut short; any complete line that is not a value
 * throws a JournalError naming the file and the line.
 */
const parseLines = <T, E>(schema: Schema.Codec<T, E>, what: string) => {
  const decode = Schema.decodeUnknownSync(Schema.fromJsonString(schema))
  return (bytes: Uint8Array, file: string): JournalLines<T> => {
    // Counted in bytes: text decoded from invalid UTF-8 is not as long as the bytes it came from.
    const end = bytes.lastIndexOf(0x0a) + 1
    const lines = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString("utf8").split("\n").slice(0, -1)
    const entries = lines.flatMap((line, index) => {
      if (line.trim() === "") return []
      try {
        return [decode(line)]
      } catch (error) {
        throw new JournalError({ file, reason: `line ${index + 1} is not ${what}: ${(error as Error).message}` })
      }
    })
    return end === bytes.length ? { entries, validBytes: end } : { entries, validBytes: end, cutShort: { line: lines.length + 1, bytes: bytes.subarray(end) } }
  }
}

const readLines = <T>(parse: (bytes: Uint8Array, file: string) => JournalLines<T>) => (file: string): JournalLines<T> =>
  fs.existsSync(file) ? parse(fs.readFileSync(file), file) : { entries: [], validBytes: 0 }

/** Parses a journal's bytes; `file` names it in errors. */
export const parseJournal = parseLines(JournalEntry, "a journal entry")
/** Reads a journal file; a trailing line without its newline (a write cut short) is returned apart, in `cutShort`. */
export const readJournal = readLines(parseJournal)
/** Reads `noise.jsonl`: the noise-floor measurements, oldest first. */
export const readNoise = readLines(parseLines(NoiseFloor, "a noise-floor measurement"))
/** Reads `verify.jsonl`: the verifications, oldest first. */
export const readVerifications = readLines(parseLines(Verification, "a verification"))
/** Reads `started.jsonl`: the experiments handed to workers, in order. */
export const readStarted = readLines(parseLines(StartedEntry, "a started experiment"))

/**
 * Drops a line cut short from the end of `file`, after keeping a copy of it beside the
 * file (`<file>.dropped-<line>`, or `.dropped-<line>.<n>` when that is taken).
 */
const dropCutShort = (file: string, read: JournalLines<unknown>): Array<Dropped> => {
  if (read.cutShort === undefined) return []
  const { line, bytes } = read.cutShort
  let copy = `${file}.dropped-${line}`
  for (let n = 2; fs.existsSync(copy); n++) copy = `${file}.dropped-${line}.${n}`
  writeSynced(copy, bytes, "wx")
  fs.truncateSync(file, read.validBytes)
  return [{ file, line, bytes: bytes.length, copy }]
}

/** Opens a side record (noise, verifications): read once, a cut-short line dropped, then appended to. */
const openSide = <T, E>(file: string, schema: Schema.Codec<T, E>, read: (file: string) => JournalLines<T>) => {
  const lines = read(file)
  const entries = lines.entries
  const dropped = dropCutShort(file, lines)
  const encode = Schema.encodeSync(schema)
  return {
    dropped,
    all: Effect.sync((): ReadonlyArray<T> => [...entries]),
    append: (value: T) =>
      Effect.try({
        try: () => {
          writeSynced(file, JSON.stringify(encode(value)) + "\n", "a")
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

/** Removes `<name>.<pid>.tmp` files in `dir` whose process is gone: writes that a crash cut short. */
const removeStaleTemporaries = (dir: string, name: string) => {
  for (const entry of fs.readdirSync(dir)) {
    const pid = entry.startsWith(`${name}.`) && entry.endsWith(".tmp") ? entry.slice(name.length + 1, -4) : ""
    if (/^[1-9]\d*$/.test(pid) && Number(pid) !== process.pid && !isAlive(Number(pid))) fs.rmSync(path.join(dir, entry), { force: true })
  }
}

export const openJournal = (dir: string, metric: Pick<MetricSpec, "name" | "secondary">) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dir, { recursive: true })
      removeStaleTemporaries(dir, "results.tsv")
      const file = path.join(dir, "journal.jsonl")
      const lines = readJournal(file)
      const entries = lines.entries
      const dropped = dropCutShort(file, lines)
      replaceSynced(path.join(dir, "results.tsv"), resultsTsv(entries, metric))
      const noise = openSide(path.join(dir, "noise.jsonl"), NoiseFloor, readNoise)
      const verifications = openSide(path.join(dir, "verify.jsonl"), Verification, readVerifications)
      const started = openSide(path.join(dir, "started.jsonl"), StartedEntry, readStarted)
      return Journal.of({
        dir,
        dropped: [...dropped, ...noise.dropped, ...verifications.dropped, ...started.dropped],
        entries: Effect.sync(() => [...entries]),
        noise: noise.all,
        appendNoise: noise.append,
        verifications: verifications.all,
        appendVerification: verifications.append,
        started: started.all,
        appendStarted: started.append,
        append: (entry) =>
          Effect.try({
            try: () => {
              writeSynced(file, JSON.stringify(Schema.encodeSync(JournalEntry)(entry)) + "\n", "a")
              entries.push(entry)
              replaceSynced(path.join(dir, "results.tsv"), resultsTsv(entries, metric))
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
