/**
 * Trials: training a commit with one seed and scoring it. Opening them builds (or checks)
 * the data cache and fixes the immutable files' seal; each trial then trains, predicts,
 * checks the seals again and scores, on the validation split and, for `verify`, on the
 * test split too. The loop, the noise measurement and `verify` all run their trainings
 * through here, so each is judged the same way.
 */
import { Clock, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { overBudget } from "./Budgets.ts"
import type { ResolvedConfig } from "./Config.ts"
import { LoopEvents } from "./Events.ts"
import { LoopError } from "./LoopError.ts"
import type { Experiment, Phase } from "./Experiment.ts"
import type { IntegrityFlag } from "./Flags.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { cacheLayout, experimentPhases, preparePhase } from "./Plan.ts"
import { unsafeContents } from "./RunDir.ts"
import { combineRunResults, type RunResult } from "./RunResult.ts"
import { Runner } from "./Runner.ts"
import type { Score } from "./Score.ts"
import { Scorer, type ScoreInput } from "./Scorer.ts"
import { changedPaths, fingerprint } from "./Seal.ts"
import * as SealFile from "./SealFile.ts"
import { Workspace } from "./Workspace.ts"

/** Where a research run keeps its state; see `Research.paths`. */
export { LoopError } from "./LoopError.ts"

export interface LoopPaths {
  readonly stateDir: string
  readonly cacheDir: string
  readonly runsDir: string
  /** Paths no phase may see besides the hidden targets (e.g. the repository's .git). */
  readonly hidden: ReadonlyArray<string>
}

export class ImmutableModified extends Schema.TaggedError<ImmutableModified>()("ImmutableModified", {
  paths: Schema.Array(Schema.String),
  when: Schema.String
}) {
  override get message() {
    return `immutable files changed ${this.when}: ${this.paths.join(", ")}`
  }
}

/** One split's outcome: how the phases ended and, when they ran to the end, the score. */
export interface Scored {
  readonly result: RunResult
  readonly score: Score | undefined
  /** Immutable files and cache entries the phases changed (the score is then void). */
  readonly sealChanged: ReadonlyArray<string>
  /** Seconds spent checking the seal and scoring, for the journal's time per phase. */
  readonly seconds?: { readonly seal: number; readonly score?: number }
}

export interface TrialOptions {
  /** The experiment's number, for progress events (-1 for none). */
  readonly id: number
  readonly seed: number
  /** The run directory's name under `runs/`. */
  readonly label: string
  readonly incumbent: JournalEntry | undefined
  /** Also predict on the test split and score it (`verify` only). */
  readonly test?: boolean
}

export interface Trial extends Scored {
  /** The test split's outcome, when asked for and the data cache has one. */
  readonly test?: Scored
}

/** The primary metric of a split that ran to the end and scored, else undefined (scores keep finite metrics only). */
export const metricOf = (scored: Scored | undefined, name: string): number | undefined =>
  scored !== undefined && scored.result.status === "ok" && scored.score?.status === "ok" ? scored.score.metrics[name] : undefined

const finite = (record: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => Number.isFinite(value)))

/** Whether the data cache holds a test split: `test/inputs` with at least one file. */
export const hasTestSplit = (cacheDir: string) => {
  try {
    return fs.readdirSync(path.join(cacheLayout(cacheDir).test, "inputs")).length > 0
  } catch {
    return false
  }
}

/**
 * Opens the trials of a research run: builds the data cache, or checks the one there
 * (rebuilt when damaged), refuses a cache whose fingerprint differs from `recorded`, and
 * fixes the immutable files' seal at the first start (checked on every later one).
 */
export const open = Effect.fn("Trials.open")(function*(
  config: ResolvedConfig,
  paths: LoopPaths,
  recorded: {
    readonly fingerprint: string | undefined
    readonly resumed: boolean
    /** Variables every experiment phase gets besides its own (a parallel worker's CPU share). */
    readonly env?: Readonly<Record<string, string>>
  }
) {
  const runner = yield* Runner
  const scorer = yield* Scorer
  const workspace = yield* Workspace
  const events = yield* LoopEvents
  const cache = cacheLayout(paths.cacheDir)
  const sources = config.sources.map((source) => path.resolve(workspace.dir, source))
  // Raw data and held-out targets are for prepare and the scorer only; the test split for verify only.
  const hiddenFromExperiments = [cache.hidden, cache.test, ...sources, ...paths.hidden]

  const makeExperiment = (id: string, seed: number, hidden: ReadonlyArray<string> = hiddenFromExperiments): Experiment => {
    const runDir = path.join(paths.runsDir, id)
    fs.rmSync(runDir, { recursive: true, force: true })
    fs.mkdirSync(runDir, { recursive: true })
    return { id, workdir: workspace.dir, runDir, seed, hidden }
  }
  /**
   * Runs the phases one by one, publishing progress; stops at the first that fails, and
   * before a phase that would read a run directory holding links out of it or FIFOs
   * (`judge` then voids the run).
   */
  const runPhases = Effect.fnUntraced(function*(id: number, experiment: Experiment, phases: ReadonlyArray<Phase>) {
    const results: Array<RunResult> = []
    for (const phase of phases) {
      if (results.length > 0 && unsafeContents(experiment.runDir) !== undefined) break
      yield* events.publish({ _tag: "PhaseStarted", id, phase: phase.name, log: path.resolve(experiment.runDir, `${phase.name}.log`) })
      const result = yield* runner.run({ ...experiment, phase })
      results.push(result)
      yield* events.publish({ _tag: "PhaseFinished", id, phase: phase.name, seconds: result.phases[0]?.seconds ?? 0 })
      if (result.status !== "ok") break
    }
    return { ...combineRunResults(results), runDir: experiment.runDir } satisfies RunResult
  })

  /** One pass over the immutable files and the data cache, split into the two. */
  const sealBoth = Effect.map(workspace.seal({ cache: paths.cacheDir }), (seal) => {
    const entries = Object.entries(seal)
    return {
      immutable: Object.fromEntries(entries.filter(([key]) => !key.startsWith("cache/"))),
      cache: Object.fromEntries(entries.filter(([key]) => key.startsWith("cache/")))
    }
  })
  const cacheSeal = Effect.map(sealBoth, (both) => both.cache)

  // Data cache: built once per research run by the trusted prepare phase, rebuilt if damaged.
  const prepare = Effect.fnUntraced(function*(force: boolean) {
    const marker = path.join(paths.stateDir, "cache.fingerprint")
    if (!force && fs.existsSync(marker)) {
      const known = fs.readFileSync(marker, "utf8").trim()
      if (fingerprint(yield* cacheSeal) === known) return known
    }
    fs.rmSync(paths.cacheDir, { recursive: true, force: true })
    for (const dir of [cache.train, cache.inputs, cache.hidden]) fs.mkdirSync(dir, { recursive: true })
    const phase = preparePhase(config, paths.cacheDir, sources)
    if (phase !== undefined) {
      const result = yield* runPhases(-1, makeExperiment("prepare", config.seed, paths.hidden), [phase])
      if (result.status !== "ok") {
        const log = result.phases[0]?.logPath
        return yield* new LoopError({
          reason: { _tag: "PrepareFailed", why: result.reason ?? result.status, ...(log === undefined ? {} : { log }), logTail: result.logTail }
        })
      }
    }
    const value = fingerprint(yield* cacheSeal)
    fs.writeFileSync(marker, value + "\n")
    return value
  })

  const dataFingerprint = yield* prepare(false)
  if (recorded.fingerprint !== undefined && recorded.fingerprint !== dataFingerprint) {
    return yield* new LoopError({ reason: { _tag: "CacheChanged", recorded: recorded.fingerprint, current: dataFingerprint } })
  }
  yield* events.publish({ _tag: "Prepared", fingerprint: dataFingerprint, reused: recorded.resumed })
  const atStart = yield* sealBoth
  let cacheBaseline = atStart.cache

  // The immutable files' seal is fixed at the first start and checked on every resume.
  const immutableSeal = atStart.immutable
  const sealed = yield* SealFile.check(path.join(paths.stateDir, "seal.json"), immutableSeal, {
    resumed: recorded.resumed,
    workdir: workspace.dir,
    immutable: workspace.immutable
  })
  if (sealed.rebuilt !== undefined) yield* events.publish({ _tag: "Repaired", what: sealed.rebuilt })
  if (sealed.changed.length > 0) return yield* new ImmutableModified({ paths: sealed.changed, when: "since this research run began" })

  /** The seals after a phase ran: flags and, when the cache was touched, a rebuilt cache. */
  const checkSeals = Effect.fnUntraced(function*() {
    const after = yield* sealBoth
    const immutableChanged = changedPaths(immutableSeal, after.immutable)
    const cacheChanged = changedPaths(cacheBaseline, after.cache)
    if (cacheChanged.length > 0) {
      const rebuilt = yield* prepare(true)
      if (rebuilt !== dataFingerprint) {
        return yield* new LoopError({ reason: { _tag: "CacheRebuiltDifferently", fingerprint: rebuilt } })
      }
      cacheBaseline = yield* cacheSeal
    }
    return [...immutableChanged, ...cacheChanged]
  })

  /** Whether the scorer still scores the incumbent's artifacts, which it scored before: good input. */
  const scoresIncumbent = (input: ScoreInput) => {
    if (input.incumbent === undefined) return Effect.succeed(false)
    const runDir = path.join(paths.runsDir, String(input.incumbent.id))
    if (!fs.existsSync(runDir) || unsafeContents(runDir) !== undefined) return Effect.succeed(undefined)
    const experiment = { ...input.experiment, id: String(input.incumbent.id), runDir, seed: input.incumbent.seed }
    return scorer.score({ ...input, experiment, run: { status: "ok", phases: [], runDir, logTail: "" }, incumbent: undefined }).pipe(
      Effect.as(true),
      Effect.catchTag("ScorerError", () => Effect.succeed(false))
    )
  }

  /**
   * The scorer's verdict. A scorer that fails on this experiment's artifacts makes it
   * `invalid`; only one that also fails on the incumbent's (good input) stops the run.
   */
  const scoreOf = (input: ScoreInput) =>
    scorer.score(input).pipe(
      Effect.catchTag("ScorerError", (error) =>
        Effect.gen(function*() {
          if ((yield* scoresIncumbent(input)) === false) return yield* error
          return {
            status: "invalid",
            reason: `the scorer failed on this experiment's artifacts: ${error.reason}`,
            metrics: {},
            reported: {},
            flags: []
          } satisfies Score
        }))
    )

  /** Scores what the phases left, with the flags they earned; an immutable change voids it. */
  const judge = Effect.fnUntraced(function*(
    options: TrialOptions,
    experiment: Experiment,
    result: RunResult,
    split: { readonly hiddenDir: string; readonly cacheDir: string }
  ) {
    const flags: Array<IntegrityFlag> = []
    const train = result.phases.find((phase) => phase.name === "train")
    if (result.status === "ok" && train !== undefined && overBudget(train.seconds, config.budget)) flags.push("budget-exceeded")
    const sealStarted = yield* Clock.currentTimeMillis
    const changed = yield* checkSeals()
    const seconds: { seal: number; score?: number } = { seal: ((yield* Clock.currentTimeMillis) - sealStarted) / 1000 }
    if (changed.length > 0) flags.push("immutable-modified")
    let score: Score | undefined
    const unsafe = result.status === "ok" ? unsafeContents(result.runDir) : undefined
    if (unsafe !== undefined) {
      score = { status: "invalid", reason: unsafe, metrics: {}, reported: {}, flags }
    } else if (result.status === "ok") {
      const scoreStarted = yield* Clock.currentTimeMillis
      score = yield* scoreOf({ experiment, run: result, ...split, stateDir: paths.stateDir, incumbent: options.incumbent })
      seconds.score = ((yield* Clock.currentTimeMillis) - scoreStarted) / 1000
      score = { ...score, metrics: finite(score.metrics), reported: finite(score.reported), flags: [...new Set([...score.flags, ...flags])] }
      if (options.id >= 0) yield* events.publish({ _tag: "Scored", id: options.id, score })
    } else if (flags.length > 0) {
      score = { status: "invalid", reason: `immutable files changed`, metrics: {}, reported: {}, flags }
    }
    if (changed.length > 0) score = { ...score!, status: "invalid", reason: `immutable files changed: ${changed.join(", ")}` }
    return { score, sealChanged: changed, seconds }
  })

  /** Trains the checked-out commit with `seed`, predicts and scores: validation, then test when asked. */
  const trial = Effect.fnUntraced(function*(options: TrialOptions) {
    const experiment = makeExperiment(options.label, options.seed)
    const phases = experimentPhases(config, cache, experiment.runDir, options.seed).map((phase) => ({ ...phase, env: { ...recorded.env, ...phase.env } }))
    const result = yield* runPhases(options.id, experiment, phases)
    const { score, sealChanged, seconds } = yield* judge(options, experiment, result, { hiddenDir: cache.hidden, cacheDir: paths.cacheDir })
    const predict = phases.find((phase) => phase.name === "predict")
    if (options.test !== true || result.status !== "ok" || predict === undefined || !hasTestSplit(paths.cacheDir)) {
      return { result, score, sealChanged, seconds } satisfies Trial
    }
    // The test split: the same trusted predict on its inputs, scored against its targets.
    const testInputs = path.join(cache.test, "inputs")
    const testPhase: Phase = {
      ...predict,
      name: "predict-test",
      env: { ...predict.env, AUTORESEARCH_INPUTS_DIR: testInputs },
      readable: [testInputs]
    }
    const hidden = [...hiddenFromExperiments.filter((dir) => dir !== cache.test), path.join(cache.test, "hidden")]
    const testRun = yield* runPhases(options.id, { ...experiment, hidden }, [testPhase])
    const tested = { ...testRun, phases: [...result.phases, ...testRun.phases] }
    const testScored = yield* judge({ ...options, id: -1 }, experiment, tested, {
      hiddenDir: path.join(cache.test, "hidden"),
      cacheDir: cache.test
    })
    return { result, score, sealChanged, seconds, test: { result: tested, ...testScored } } satisfies Trial
  })

  return { dataFingerprint, trial, prepare }
})
