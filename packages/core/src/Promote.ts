/**
 * Promoting a finished research run: its best kept experiment (or a chosen one) is
 * written into another research directory, so that the next phase of a research can
 * build on it. The folder it writes (`promoted/` by default) holds the experiment's
 * artifacts from its run directory, its mutable files as committed, and
 * `provenance.json`: where they came from, the metric, and each file's SHA-256.
 *
 * The run directory is untrusted (the experiment wrote it): artifacts are read with
 * `readRegularBytes`. The folder is built beside its final place and renamed into it,
 * so a failure leaves an earlier promotion as it was.
 */
import { DateTime, Effect, Exit, Result, Schema } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { MetricSpec, ResolvedConfig } from "./Config.ts"
import { normalisePath } from "./Edits.ts"
import * as GitRatchet from "./GitRatchet.ts"
import { bestEntry, JournalError, readJournal } from "./Journal.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import * as Research from "./Research.ts"
import { kindOf, lstat, readRegularBytes } from "./SafeRead.ts"

export class PromoteError extends Schema.TaggedError<PromoteError>()("PromoteError", {
  reason: Schema.String,
  fix: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.fix ? `${this.reason} (${this.fix})` : this.reason
  }
}

/** What `provenance.json` holds. */
export const Provenance = Schema.Struct({
  from: Schema.Struct({
    /** The source research directory, relative to its repository's root (`.` for the root). */
    dir: Schema.String,
    tag: Schema.String,
    branch: Schema.String,
    /** The experiment's id in the source journal. */
    id: Schema.Int,
    commit: Schema.String
  }),
  metric: Schema.Struct({
    name: Schema.String,
    direction: Schema.Literals(["max", "min"]),
    value: Schema.Number
  }),
  /** Every metric the scorer recorded for the experiment. */
  metrics: Schema.Record(Schema.String, Schema.Number),
  description: Schema.String,
  hypothesis: Schema.String,
  /** The data fingerprint the experiment was trained and scored on. */
  fingerprint: Schema.String,
  promotedAt: Schema.String,
  /** Each file written, relative to the promoted folder, with its SHA-256 (hex). */
  files: Schema.Record(Schema.String, Schema.String)
})
export type Provenance = typeof Provenance.Type

/** Artifacts copied when none are named: the trained TorchScript model. */
export const defaultArtifacts: ReadonlyArray<string> = ["model.pt"]
export const defaultInto = "promoted"
/** The largest artifact copied (one read of a regular file cannot be longer). */
export const maxArtifactBytes = 2 ** 31 - 1
export const provenanceFile = "provenance.json"
/** The folder, inside the promoted one, that holds the experiment's mutable files. */
export const sourceFolder = "source"

export interface PromoteOptions {
  /** The source research directory. */
  readonly from: string
  readonly tag: string
  /** The research directory to write into; it must exist. */
  readonly to: string
  /** The source's config, or the parts of it promote reads. */
  readonly config: {
    readonly metric: Pick<MetricSpec, "name" | "direction">
    readonly mutable: ReadonlyArray<string>
    /** Names the training script in the message for a missing artifact. */
    readonly phases?: Pick<ResolvedConfig["phases"], "train"> | undefined
  }
  /** The experiment to promote; by default the best kept one. */
  readonly id?: number | undefined
  /** Files of the experiment's run directory to copy; by default `model.pt`. */
  readonly artifacts?: ReadonlyArray<string> | undefined
  /** The folder inside `to` to write; by default `promoted`. */
  readonly into?: string | undefined
  readonly maxArtifactBytes?: number | undefined
}

export interface WrittenFile {
  /** Relative to the promoted folder. */
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

export interface PromoteSummary {
  readonly from: Research.ResearchPaths
  readonly entry: JournalEntry
  /** The promoted folder (absolute). */
  readonly into: string
  /** The artifacts, the source files, and provenance.json last. */
  readonly files: ReadonlyArray<WrittenFile>
  readonly provenance: Provenance
  /** Whether an earlier promotion was replaced. */
  readonly replaced: boolean
}

// ---------------------------------------------------------------------------
// Pure pieces

/** The experiment to promote: `id` when given (it must be kept), else the best kept one. */
export const chooseEntry = (
  entries: ReadonlyArray<JournalEntry>,
  metric: Pick<MetricSpec, "name" | "direction">,
  id: number | undefined,
  run: { readonly tag: string; readonly status: string }
): Result.Result<JournalEntry, PromoteError> => {
  if (id !== undefined) {
    const entry = entries.find((candidate) => candidate.id === id)
    if (entry === undefined) {
      return Result.fail(
        new PromoteError({
          reason: `research run '${run.tag}' has no experiment ${id} (it has ${entries.length === 0 ? "none" : `0 to ${entries.length - 1}`})`,
          fix: `see them with \`${run.status}\``
        })
      )
    }
    if (entry.status !== "keep") {
      return Result.fail(
        new PromoteError({
          reason: `experiment ${id} of research run '${run.tag}' was not kept (status ${entry.status}); only a kept experiment can be promoted`,
          fix: `pick a kept one (\`${run.status}\`), or leave out --id for the best`
        })
      )
    }
    if (entry.metrics[metric.name] === undefined || entry.commit === null) {
      return Result.fail(new PromoteError({ reason: `experiment ${id} of research run '${run.tag}' has no ${metric.name} or no commit` }))
    }
    return Result.succeed(entry)
  }
  const best = bestEntry(entries, metric)
  if (best === undefined || best.commit === null) {
    return Result.fail(
      new PromoteError({
        reason: `research run '${run.tag}' has no kept experiment yet (${entries.length} experiment${entries.length === 1 ? "" : "s"}, none kept with ${metric.name})`,
        fix: `see why with \`${run.status}\``
      })
    )
  }
  return Result.succeed(best)
}

/**
 * A path relative to a folder, without `..`, in one spelling (forward slashes); `what`
 * names it in the error, e.g. `--into`.
 */
export const relativePath = (value: string, what: string): Result.Result<string, PromoteError> => {
  const normal = normalisePath(value)
  if (value.trim() === "" || path.posix.isAbsolute(normal) || path.win32.isAbsolute(value) || normal === "." || normal.split("/").includes("..")) {
    return Result.fail(new PromoteError({ reason: `${what} '${value}' must be a relative path inside its folder, without '..'` }))
  }
  return Result.succeed(normal.replace(/\/+$/, ""))
}

/** The artifacts to copy, checked and without repeats; none may be `provenance.json` or under `source/`. */
export const artifactPaths = (artifacts: ReadonlyArray<string>): Result.Result<ReadonlyArray<string>, PromoteError> => {
  const out: Array<string> = []
  for (const artifact of artifacts) {
    const checked = relativePath(artifact, "--artifact")
    if (Result.isFailure(checked)) return Result.fail(checked.failure)
    const file = checked.success
    if (file === provenanceFile || file === sourceFolder || file.startsWith(`${sourceFolder}/`)) {
      return Result.fail(
        new PromoteError({ reason: `--artifact '${artifact}' would overwrite the promotion's own ${file === provenanceFile ? provenanceFile : `${sourceFolder}/`}` })
      )
    }
    if (!out.includes(file)) out.push(file)
  }
  return out.length === 0 ? Result.fail(new PromoteError({ reason: "no artifact to promote" })) : Result.succeed(out)
}

export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** The provenance of a promotion. */
export const makeProvenance = (input: {
  readonly from: Pick<Research.ResearchPaths, "relative" | "branch">
  readonly tag: string
  readonly entry: JournalEntry
  readonly metric: Pick<MetricSpec, "name" | "direction">
  readonly promotedAt: string
  readonly files: ReadonlyArray<Pick<WrittenFile, "path" | "sha256">>
}): Provenance => ({
  from: {
    dir: input.from.relative === "" ? "." : input.from.relative.split(path.sep).join("/"),
    tag: input.tag,
    branch: input.from.branch,
    id: input.entry.id,
    commit: input.entry.commit ?? ""
  },
  metric: { name: input.metric.name, direction: input.metric.direction, value: input.entry.metrics[input.metric.name]! },
  metrics: input.entry.metrics,
  description: input.entry.description,
  hypothesis: input.entry.hypothesis,
  fingerprint: input.entry.fingerprint,
  promotedAt: input.promotedAt,
  files: Object.fromEntries(input.files.map((file) => [file.path, file.sha256]))
})

// ---------------------------------------------------------------------------
// I/O

const fromResult = <A>(result: Result.Result<A, PromoteError>) =>
  Result.isFailure(result) ? Effect.fail(result.failure) : Effect.succeed(result.success)

const failure = (reason: string, fix?: string) => new PromoteError(fix === undefined ? { reason } : { reason, fix })

const untrusted = "; the experiment wrote its run directory, so only regular files in real folders are copied from it"

/** Checks that `file` (relative to the run directory) is a regular file reached through real folders only. */
const checkArtifact = (runDir: string, file: string, missing: string): Result.Result<string, PromoteError> => {
  let at = runDir
  const parts = file.split("/")
  for (const [index, part] of parts.entries()) {
    at = path.join(at, part)
    const stats = lstat(at)
    if (stats === undefined) return Result.fail(failure(missing))
    const last = index === parts.length - 1
    if (last ? !stats.isFile() : !stats.isDirectory()) {
      return Result.fail(failure(`${at} is ${kindOf(stats)}, not ${last ? "a regular file" : "a folder"}${untrusted}`))
    }
  }
  return Result.succeed(at)
}

/** A file's bytes at a commit, exactly (no trimming). */
const blobAt = (repoRoot: string, commit: string, file: string) =>
  GitRatchet.show(repoRoot, commit, file).pipe(
    Effect.mapError((error) => failure(`${file} is not in commit ${commit.slice(0, 7)}: ${error.reason}`))
  )

/**
 * Writes the experiment's artifacts, source and provenance into `<to>/<into>`, replacing
 * an earlier promotion there whole.
 */
export const promote = Effect.fnUntraced(function*(options: PromoteOptions) {
  const into = yield* fromResult(relativePath(options.into ?? defaultInto, "--into"))
  const artifacts = yield* fromResult(artifactPaths(options.artifacts ?? defaultArtifacts))
  const to = path.resolve(options.to)
  if (!fs.existsSync(to) || !fs.statSync(to).isDirectory()) {
    return yield* failure(`destination research directory not found: ${options.to}`, "create it first; promote writes into an existing research directory")
  }
  const target = path.join(to, into)
  const existing = lstat(target)
  if (existing !== undefined) {
    if (!existing.isDirectory()) return yield* failure(`${target} is ${kindOf(existing)}; it would be replaced by the promoted folder`, "choose another --into")
    if (lstat(path.join(target, provenanceFile)) === undefined) {
      return yield* failure(`${target} exists and is not an earlier promotion (it has no ${provenanceFile}); it would be replaced whole`, "choose another --into, or remove it yourself")
    }
  }

  const where = yield* Research.paths(options.from, options.tag).pipe(
    Effect.mapError((error) => failure(error.reason, error.fix))
  )
  const metric = options.config.metric
  const status = `autoresearch status ${options.from} --tag ${options.tag}`
  const journalFile = path.join(where.stateDir, "journal.jsonl")
  if (!fs.existsSync(journalFile)) {
    return yield* failure(`no research run '${options.tag}' in ${options.from} yet`, `run \`autoresearch run ${options.from} --tag ${options.tag}\` first`)
  }
  const { entries } = yield* Effect.try({
    try: () => readJournal(journalFile),
    catch: (cause) => (cause instanceof JournalError ? cause : new JournalError({ file: journalFile, reason: String(cause) }))
  })
  const entry = yield* fromResult(chooseEntry(entries, metric, options.id, { tag: options.tag, status }))
  const commit = entry.commit!
  yield* GitRatchet.git(where.repoRoot, ["cat-file", "-e", `${commit}^{commit}`]).pipe(
    Effect.mapError(() => failure(`experiment ${entry.id}'s commit ${commit} is not in the repository at ${where.repoRoot}`))
  )

  // Every artifact is there and a regular file before anything is written.
  const runDir = path.join(where.runsDir, String(entry.id))
  const trainScript = options.config.phases?.train.find((arg) => arg.endsWith(".py")) ?? "the training code"
  const sources: Array<{ readonly file: string; readonly at: string }> = []
  for (const file of artifacts) {
    const at = yield* fromResult(checkArtifact(
      runDir,
      file,
      `run ${entry.id} left no ${file} (${path.join(runDir, file)}); was it cleaned, or does ${trainScript} save under another name? use --artifact`
    ))
    sources.push({ file, at })
  }
  const limit = options.maxArtifactBytes ?? maxArtifactBytes
  const mutable = options.config.mutable.map(normalisePath)
  const inRepo = (file: string) => path.posix.join(where.relative.split(path.sep).join("/"), file)

  const parent = path.dirname(target)
  const created = yield* Effect.try({
    try: () => fs.mkdirSync(parent, { recursive: true }),
    catch: (cause) => failure(`cannot create ${parent}: ${String(cause)}`)
  })
  const temporary = yield* Effect.try({
    try: () => {
      const folder = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.promote-`))
      fs.chmodSync(folder, 0o755) // mkdtemp makes it private; the promoted folder is an ordinary one
      return folder
    },
    catch: (cause) => {
      if (created !== undefined) fs.rmSync(created, { recursive: true, force: true })
      return failure(`cannot create a temporary folder in ${parent}: ${String(cause)}`)
    }
  })
  const writeFile = (file: string, bytes: Uint8Array) =>
    Effect.try({
      try: (): WrittenFile => {
        const destination = path.join(temporary, file)
        fs.mkdirSync(path.dirname(destination), { recursive: true })
        fs.writeFileSync(destination, bytes, { flag: "wx" })
        return { path: file, bytes: bytes.length, sha256: sha256(bytes) }
      },
      catch: (cause) => failure(`cannot write ${path.join(target, file)}: ${String(cause)}`)
    })

  const build = Effect.gen(function*() {
    const files: Array<WrittenFile> = []
    for (const { file, at } of sources) {
      const read = readRegularBytes(at, limit)
      if (read._tag === "Missing") return yield* failure(`run ${entry.id} left no ${file} (${at})`)
      if (read._tag === "Refused") return yield* failure(`${read.reason}${untrusted}`)
      if (read.truncated) return yield* failure(`${at} is larger than ${limit} bytes (${read.size}); promote copies artifacts up to that size`)
      files.push(yield* writeFile(file, read.bytes))
    }
    for (const file of mutable) {
      files.push(yield* writeFile(`${sourceFolder}/${file}`, yield* blobAt(where.repoRoot, commit, inRepo(file))))
    }
    const provenance = makeProvenance({
      from: where,
      tag: options.tag,
      entry,
      metric,
      promotedAt: DateTime.formatIso(yield* DateTime.now),
      files
    })
    const written = yield* writeFile(provenanceFile, Buffer.from(JSON.stringify(Schema.encodeSync(Provenance)(provenance), null, 2) + "\n"))
    // Swap: the earlier promotion is moved aside, the new one renamed into place, then the old one removed.
    const replaced = yield* Effect.try({
      try: () => {
        if (lstat(target) === undefined) {
          fs.renameSync(temporary, target)
          return false
        }
        const old = `${temporary}.old`
        fs.renameSync(target, old)
        try {
          fs.renameSync(temporary, target)
        } catch (error) {
          fs.renameSync(old, target)
          throw error
        }
        try {
          fs.rmSync(old, { recursive: true, force: true })
        } catch {
          // The promotion is in place; what is left of the old one is only clutter.
        }
        return true
      },
      catch: (cause) => failure(`cannot move the promoted folder into ${target}: ${String(cause)}`)
    })
    return { from: where, entry, into: target, files: [...files, written], provenance, replaced } satisfies PromoteSummary
  })

  return yield* build.pipe(
    Effect.onExit((exit) =>
      Effect.sync(() => {
        fs.rmSync(temporary, { recursive: true, force: true })
        // A parent folder made for this promotion goes when the promotion failed.
        if (Exit.isFailure(exit) && created !== undefined) fs.rmSync(created, { recursive: true, force: true })
      })
    )
  )
})
