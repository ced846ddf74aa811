/**
 * Opening a research run: finds the repository that holds the research directory,
 * checks that what must be committed is, takes the run's lock, repairs what a killed run
 * left (orphaned processes, git's lock files, a half-made worktree, refs of experiments
 * the journal does not hold), creates or reattaches the run's worktree on
 * `autoresearch/<tag>`, and provides the services the loop needs. `run` (RunResearch.ts)
 * does all of it and runs the loop, in one call.
 */
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { ResolvedConfig } from "./Config.ts"
import { LoopEvents } from "./Events.ts"
import * as GitLocks from "./GitLocks.ts"
import * as GitRatchet from "./GitRatchet.ts"
import * as History from "./History.ts"
import { Journal } from "./Journal.ts"
import type { LoopPaths } from "./Loop.ts"
import * as Orphans from "./Orphans.ts"
import * as RunLock from "./RunLock.ts"
import { changedPaths, type Seal, sealOf } from "./Seal.ts"
import { Workspace } from "./Workspace.ts"

export class ResearchError extends Schema.TaggedError<ResearchError>()("ResearchError", {
  reason: Schema.String,
  fix: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.fix ? `${this.reason} (${this.fix})` : this.reason
  }
}

export interface ResearchPaths extends LoopPaths {
  readonly repoRoot: string
  /** The research directory, relative to the repository root. */
  readonly relative: string
  readonly worktree: string
  /** The research directory inside the worktree, where experiments run. */
  readonly workdir: string
  readonly branch: string
}

/**
 * A research directory as an absolute path. A relative path is resolved against the
 * working directory; a file URL (`new URL("research", import.meta.url)`) against the
 * script that made it. Another kind of URL is refused.
 */
export const directoryPath = (dir: string | URL): Effect.Effect<string, ResearchError> =>
  typeof dir === "string"
    ? Effect.succeed(path.resolve(dir))
    : dir.protocol === "file:"
    ? Effect.succeed(path.resolve(fileURLToPath(dir)))
    : Effect.fail(new ResearchError({ reason: `research directory ${dir.href} is not a file: URL`, fix: "pass a path or a file: URL" }))

/** The tag a research directory's runs get when none is given: the directory's name. */
export const defaultTag = (dir: string | URL) =>
  path.basename(typeof dir === "string" ? path.resolve(dir) : dir.protocol === "file:" ? fileURLToPath(dir) : dir.pathname)
    .replace(/[^A-Za-z0-9._-]/g, "-")

export const isValidTag = (tag: string) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tag) && !tag.includes("..")

const run = (cwd: string, args: ReadonlyArray<string>) => Effect.mapError(GitRatchet.git(cwd, args), (error) => error.reason)

/** The file that names the research directory a tag's state belongs to (relative to the repository). */
const directoryFile = (stateDir: string) => path.join(stateDir, "research.json")

/** The research directory a tag's state belongs to, when recorded; `""` is the repository's root. */
export const recordedDirectory = (stateDir: string): string | undefined => {
  try {
    const value = JSON.parse(fs.readFileSync(directoryFile(stateDir), "utf8")) as { directory?: unknown }
    return typeof value.directory === "string" ? value.directory : undefined
  } catch {
    return undefined
  }
}

/** A tag made of a research directory's path, e.g. `b-toy` for `b/toy`. */
const tagFor = (relative: string) => relative.split(path.sep).filter((part) => part !== "").join("-").replace(/[^A-Za-z0-9._-]/g, "_") || "root"

/**
 * Where a research run keeps its state, below the repository's `.autoresearch/<tag>/`.
 * A tag belongs to one research directory: another directory of the same name (the
 * default tag) is refused, so that two never share a data cache, a journal or a branch.
 */
export const paths = Effect.fnUntraced(function*(dir: string | URL, tag: string) {
  const absolute = yield* directoryPath(dir)
  const shown = typeof dir === "string" ? dir : absolute
  if (!fs.existsSync(absolute) || !fs.statSync(absolute).isDirectory()) {
    return yield* new ResearchError({ reason: `research directory not found: ${shown}` })
  }
  if (!isValidTag(tag)) {
    return yield* new ResearchError({ reason: `invalid tag '${tag}'`, fix: "use letters, digits, '.', '_' and '-'" })
  }
  const repoRoot = yield* run(absolute, ["rev-parse", "--show-toplevel"]).pipe(
    Effect.mapError(() =>
      new ResearchError({ reason: `${shown} is not inside a git repository`, fix: "run `git init` and commit the research directory" })
    )
  )
  const realRoot = fs.realpathSync(repoRoot)
  const relative = path.relative(realRoot, fs.realpathSync(absolute))
  const stateDir = path.join(realRoot, ".autoresearch", tag)
  const worktree = path.join(stateDir, "worktree")
  const owner = recordedDirectory(stateDir)
  if (owner !== undefined && owner !== relative) {
    return yield* new ResearchError({
      reason: `tag '${tag}' is the research run of ${owner || "."}, not of ${relative || "."}`,
      fix: `a tag holds one research directory's state; give this one its own, e.g. --tag ${tagFor(relative)}`
    })
  }
  return {
    repoRoot: realRoot,
    relative,
    stateDir,
    worktree,
    workdir: path.join(worktree, relative),
    cacheDir: path.join(stateDir, "cache"),
    runsDir: path.join(stateDir, "runs"),
    branch: `autoresearch/${tag}`,
    hidden: [path.join(realRoot, ".git"), path.join(realRoot, ".autoresearch")]
  } satisfies ResearchPaths
})

/** Repository-relative paths of local modules (absolute paths), or the first that lies outside the repository. */
const modulesInRepo = (where: ResearchPaths, modules: ReadonlyArray<string>) => {
  const relative = modules.map((file) => path.relative(where.repoRoot, fs.realpathSync(file)))
  const outside = relative.findIndex((file) => file.startsWith("..") || path.isAbsolute(file))
  return { relative, outside: outside === -1 ? undefined : modules[outside] }
}

/** The config's file name in a research directory; it is always immutable. */
const configName = "autoresearch.config.ts"

/** The research files the config names that are not there, each said as missing with its path: git would only call them "not committed". */
const missingFiles = (where: ResearchPaths, config: Pick<ResolvedConfig, "mutable" | "immutable"> & { readonly program?: string | undefined }) => {
  const dir = path.join(where.repoRoot, where.relative)
  const missing = [...config.mutable, ...config.immutable].filter((file) => !fs.existsSync(path.join(dir, file)))
  const what = (file: string) =>
    file === config.program
      ? `program file ${file} does not exist: ${path.join(dir, file)} (it holds the proposer's instructions: write it and commit it, or change \`program\` in ${configName})`
      : `${config.mutable.includes(file) ? "mutable" : "immutable"} file ${file} does not exist: ${path.join(dir, file)} (create it and commit it, or remove it from the config)`
  return missing.map(what)
}

/**
 * Checks the user's checkout: every research file the config names exists, the research
 * directory is committed, its immutable files unmodified, and so is every local module
 * the config imports (`configModules`, absolute paths): the scorer or runner they hold
 * decides what is kept, so they are sealed too. Returns warnings (uncommitted mutable files).
 */
export const checkCheckout = Effect.fnUntraced(function*(
  where: ResearchPaths,
  config: Pick<ResolvedConfig, "mutable" | "immutable"> & { readonly program?: string | undefined },
  configModules: ReadonlyArray<string> = []
) {
  const missing = missingFiles(where, config)
  if (missing.length > 0) return yield* new ResearchError({ reason: missing.join("; ") })
  const inRepo = (file: string) => path.join(where.relative, file)
  const modules = modulesInRepo(where, configModules)
  if (modules.outside !== undefined) {
    return yield* new ResearchError({
      reason: `the config imports ${modules.outside}, outside the repository, so it cannot be sealed`,
      fix: "move it into the repository and commit it"
    })
  }
  const head = yield* run(where.repoRoot, ["rev-parse", "--verify", "--quiet", "HEAD"]).pipe(Effect.orElseSucceed(() => ""))
  if (head === "") {
    return yield* new ResearchError({ reason: "the repository has no commit yet", fix: "commit the research directory" })
  }
  const tracked = new Set((yield* run(where.repoRoot, ["ls-files", "--", where.relative || "."]).pipe(
    Effect.orElseSucceed(() => "")
  )).split("\n"))
  const untracked = [...config.mutable, ...config.immutable].filter((file) => !tracked.has(inRepo(file)))
  if (untracked.length > 0) {
    return yield* new ResearchError({
      reason: `not committed: ${untracked.join(", ")}`,
      fix: "the research runs from the committed version; `git add` and commit them"
    })
  }
  if (modules.relative.length > 0) {
    const trackedModules = new Set((yield* run(where.repoRoot, ["ls-files", "--", ...modules.relative]).pipe(
      Effect.orElseSucceed(() => "")
    )).split("\n"))
    const loose = modules.relative.filter((file) => !trackedModules.has(file))
    const changed = (yield* run(where.repoRoot, ["status", "--porcelain", "--", ...modules.relative]).pipe(
      Effect.orElseSucceed(() => "")
    )).split("\n").filter((line) => line !== "").map((line) => line.slice(3))
    const unsealed = [...new Set([...loose, ...changed])]
    if (unsealed.length > 0) {
      return yield* new ResearchError({
        reason: `the config imports modules that are not committed as they are: ${unsealed.join(", ")}`,
        fix: "they decide what is kept, so they are sealed like the immutable files; commit or revert them"
      })
    }
  }
  const status = yield* run(where.repoRoot, ["status", "--porcelain", "--", ...config.immutable.map(inRepo)]).pipe(
    Effect.orElseSucceed(() => "")
  )
  if (status !== "") {
    const files = status.split("\n").map((line) => line.slice(3))
    return yield* new ResearchError({
      reason: `immutable files have uncommitted changes: ${files.join(", ")}`,
      fix: "commit or revert them; the research runs from the committed version"
    })
  }
  const mutableStatus = yield* run(where.repoRoot, ["status", "--porcelain", "--", ...config.mutable.map(inRepo)]).pipe(
    Effect.orElseSucceed(() => "")
  )
  return mutableStatus === "" ? [] : [`uncommitted changes to mutable files are not part of the research: ${mutableStatus.split("\n").map((line) => line.slice(3)).join(", ")}`]
})

/**
 * Records the hashes of the local modules the config imports at a research run's first
 * start, in the state directory, and refuses a resume after any of them changed: the
 * experiments so far were kept by the old code.
 */
export const sealConfigModules = Effect.fnUntraced(function*(where: ResearchPaths, configModules: ReadonlyArray<string>) {
  const seal = sealOf(where.repoRoot, modulesInRepo(where, configModules).relative)
  const file = path.join(where.stateDir, "config-modules.json")
  if (!fs.existsSync(file)) {
    fs.mkdirSync(where.stateDir, { recursive: true })
    fs.writeFileSync(file, JSON.stringify(seal, null, 2) + "\n")
    return seal
  }
  const recorded = yield* Effect.try({
    try: () => JSON.parse(fs.readFileSync(file, "utf8")) as Seal,
    catch: () => new ResearchError({ reason: `${file} is not readable JSON`, fix: "restore it, or start a new --tag" })
  })
  const changed = changedPaths(recorded, seal)
  if (changed.length > 0) {
    return yield* new ResearchError({
      reason: `modules the config imports changed since this research run began: ${changed.join(", ")}`,
      fix: "the experiments so far were kept by the old code: restore them, or start a new --tag"
    })
  }
  return seal
})

/** One loop per tag at a time: see RunLock. A lock left by a process that is gone is taken over. */
export const lock = (where: ResearchPaths) =>
  RunLock.acquire(where.stateDir, {
    busy: (pid) => new ResearchError({ reason: `another autoresearch process (pid ${pid}) is running tag ${path.basename(where.stateDir)}` }),
    failed: (reason) => new ResearchError({ reason })
  })

/** Keeps `.autoresearch/` out of `git status` without touching the user's .gitignore. */
const excludeStateDir = Effect.fnUntraced(function*(repoRoot: string) {
  const common = yield* run(repoRoot, ["rev-parse", "--git-common-dir"]).pipe(Effect.orElseSucceed(() => ".git"))
  const file = path.resolve(repoRoot, common, "info", "exclude")
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
  if (!text.split("\n").includes("/.autoresearch/")) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.appendFileSync(file, `${text.endsWith("\n") || text === "" ? "" : "\n"}/.autoresearch/\n`)
  }
})

/**
 * What a killed run left, repaired with the run's lock held: its orphaned processes
 * killed, git's stale lock files removed, a half-made worktree rebuilt, and refs of
 * experiments the journal does not hold set aside as interrupted. Refuses to start over
 * on a history whose journal is gone. Returns each repair, in words.
 */
const repair = Effect.fnUntraced(function*(where: ResearchPaths) {
  const repairs: Array<string> = []
  const killed = yield* Effect.promise(() => Orphans.sweepOrphans(where.runsDir))
  if (killed.length > 0) repairs.push(`killed ${killed.length} process${killed.length === 1 ? "" : "es"} a killed run left behind (pid ${killed.join(", ")})`)
  const commonDir = yield* GitRatchet.commonDir(where.repoRoot).pipe(Effect.mapError((error) => new ResearchError({ reason: error.message })))
  const places = {
    commonDir,
    worktreeGitDirs: GitRatchet.worktreeGitDirs(commonDir, where.worktree),
    worktree: where.worktree,
    branch: where.branch,
    refPrefix: GitRatchet.refPrefix(where.branch)
  }
  for (const file of yield* GitLocks.clearStale(places)) repairs.push(`removed git's stale lock ${file}, left by a git that was killed`)
  repairs.push(...yield* GitRatchet.ensureWorktree({ repoRoot: where.repoRoot, worktree: where.worktree, branch: where.branch }))

  const experiments = History.journalLength(where.stateDir)
  const history = yield* History.read(where.repoRoot, where.branch)
  const lost = History.lostJournal(experiments, history, where.branch)
  if (lost !== undefined) {
    return yield* new ResearchError({
      reason: lost,
      fix: `restore ${path.join(where.stateDir, "journal.jsonl")}, or start a new --tag, or pass --fresh to start this tag over: ` +
        `--fresh moves the old refs and branch head under ${GitRatchet.refPrefix(where.branch)}/${History.previousName}/<time>/ ` +
        `and the old state files under ${path.join(where.stateDir, History.previousName)}/<time>/, and starts from your HEAD`
    })
  }
  for (const move of History.strayDiscards(experiments, history.refs, where.branch)) {
    yield* History.moveRef(where.repoRoot, move)
    repairs.push(`set aside ${move.from} as ${move.to}: the journal does not hold that experiment`)
  }
  return repairs
}, (effect) => Effect.mapError(effect, (error) => error._tag === "ResearchError" ? error : new ResearchError({ reason: error.message })))

/** Records which research directory the tag's state belongs to, at its first start. */
const claimDirectory = (where: ResearchPaths) =>
  Effect.sync(() => {
    if (recordedDirectory(where.stateDir) === undefined) {
      fs.writeFileSync(directoryFile(where.stateDir), JSON.stringify({ directory: where.relative }) + "\n")
    }
  })

/**
 * Starts a tag over (`--fresh`): sets its earlier run aside, refs and branch head under
 * `refs/autoresearch/<tag>/previous/<time>/` and state files under
 * `.autoresearch/<tag>/previous/<time>/`; the branch restarts at your HEAD. Takes the
 * run's lock while it works. Returns what it set aside, in words (undefined: nothing).
 */
export const startOver = (where: ResearchPaths) =>
  Effect.scoped(Effect.gen(function*() {
    yield* lock(where)
    const stamp = new Date().toISOString().replace(/[:.]/g, "-")
    return yield* History.setAside(where, stamp).pipe(Effect.mapError((error) => new ResearchError({ reason: error.message })))
  }))

/**
 * Opens the research run and provides Workspace, Journal, Ratchet and LoopEvents; the
 * caller adds a Proposer, a Runner and a Scorer. Scoped: the lock is held while it lives.
 * What it repaired on the way is published as `Repaired` events. The config's local
 * modules (`configModules`) are sealed only once every check has passed, so a refused
 * start (a lost journal, say) leaves no state behind.
 */
export const layer = (where: ResearchPaths, config: ResolvedConfig, configModules: ReadonlyArray<string> = []) =>
  Layer.unwrap(
    Effect.gen(function*() {
      yield* lock(where)
      yield* excludeStateDir(where.repoRoot)
      const repairs = yield* repair(where)
      yield* sealConfigModules(where, configModules)
      yield* claimDirectory(where)
      const announce = Layer.effectDiscard(Effect.gen(function*() {
        const events = yield* LoopEvents
        for (const what of repairs) yield* events.publish({ _tag: "Repaired", what })
      }))
      return Layer.mergeAll(
        Workspace.layer(where.workdir, config),
        Journal.layer(where.stateDir, config.metric),
        GitRatchet.layer({ worktree: where.worktree, branch: where.branch }),
        announce.pipe(Layer.provideMerge(LoopEvents.layer))
      )
    })
  )

export { run, type RunOptions, type RunOutcome, runPromise } from "./RunResearch.ts"
