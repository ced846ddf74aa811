/**
 * A whole research run in one call, as `autoresearch run` makes it: the checkout
 * checked, the tag started over when asked, the run opened under its lock, the loop run
 * to its end, and the best and the baseline verified on the test split where there is
 * one. `Research.run` is the Effect; `Research.runPromise` runs it from a plain script,
 * with Ctrl-C stopping it cleanly (see Signals.ts).
 */
import { Effect, Fiber, Layer, Stream } from "effect"
import type { Budget, MetricSpec, ResearchConfig, ResolvedConfig } from "./Config.ts"
import { resolveConfig } from "./Config.ts"
import { type LoopEvent, LoopEvents } from "./Events.ts"
import { Journal } from "./Journal.ts"
import * as LiveStatus from "./LiveStatus.ts"
import * as Loop from "./Loop.ts"
import type { NoiseFloor } from "./Noise.ts"
import type { Proposer } from "./Proposer.ts"
import * as Research from "./Research.ts"
import type { Runner } from "./Runner.ts"
import type { Scorer } from "./Scorer.ts"
import * as Signals from "./Signals.ts"
import * as Trials from "./Trials.ts"
import type { Verification } from "./Verification.ts"
import * as Verify from "./Verify.ts"

export interface RunOptions {
  /**
   * The research directory, inside a git repository: a path (a relative one is resolved
   * against the working directory) or a file URL, e.g. `new URL("research", import.meta.url)`
   * for the folder beside the script.
   */
  readonly dir: string | URL
  /** The research run's name (branch `autoresearch/<tag>`); default: the directory's name. */
  readonly tag?: string
  /** The config, as `defineResearch` returns it (imported from the directory's `autoresearch.config.ts`). */
  readonly config: ResearchConfig | ResolvedConfig
  /** Local modules the config imports (absolute paths): sealed like the immutable files. */
  readonly configModules?: ReadonlyArray<string>
  /** Plug-ins; each defaults to the config's own. */
  readonly proposer?: Layer.Layer<Proposer, unknown>
  readonly runner?: Layer.Layer<Runner, unknown>
  readonly scorer?: Layer.Layer<Scorer, unknown>
  /** Budgets that replace the config's, e.g. `{ maxExperiments: 3, experimentSeconds: 30 }`. */
  readonly budget?: Partial<Budget>
  /** Start the tag over: its earlier run is set aside under `previous/<time>/`, nothing deleted. */
  readonly fresh?: boolean
  /** Seeds for the verify at the end, where the data has a test split (0: none); default `budget.verifySeeds`. */
  readonly verifySeeds?: number
  /** Called once the checks have passed, before the run is opened (and before `fresh` sets anything aside). */
  readonly onStart?: (started: { readonly where: Research.ResearchPaths; readonly config: ResolvedConfig }) => void | Effect.Effect<void, unknown>
  /** Called with every event, in order (`Progress.print` prints them); an Effect it returns is run. */
  readonly onEvent?: (event: LoopEvent, metric: MetricSpec) => void | Effect.Effect<void>
}

export interface RunOutcome {
  readonly summary: Loop.LoopSummary
  /** The latest noise floor, when one was measured. */
  readonly noise: NoiseFloor | undefined
  /** The verify at the end, when one ran. */
  readonly verification: Verification | undefined
  readonly where: Research.ResearchPaths
  readonly config: ResolvedConfig
}

/** The config with the budget overrides, before the defaults that derive from them (the grace) are filled in. */
const withBudget = (config: ResearchConfig | ResolvedConfig, budget: Partial<Budget> = {}): ResolvedConfig =>
  resolveConfig({ ...config, budget: { ...config.budget, ...budget } } as ResearchConfig)

const missingPlugin = (what: string, fix: string) => new Research.ResearchError({ reason: `no ${what}`, fix })

/** Subscribes `onEvent` to the run's events until the last one the run will publish. */
const follow = (onEvent: NonNullable<RunOptions["onEvent"]>, config: ResolvedConfig, willVerify: (best: unknown) => boolean) =>
  Effect.gen(function*() {
    const events = yield* LoopEvents
    const last = (event: LoopEvent) => event._tag === "Verified" || (event._tag === "LoopFinished" && !willVerify(event.best))
    return yield* Effect.forkScoped(Stream.runForEach(Stream.takeUntil(events.subscribe, last), (event) => {
      const done = onEvent(event, config.metric)
      return Effect.isEffect(done) ? done : Effect.void
    }))
  })

/** Keeps `live.json` (what runs now, for the live page in another process) while the scope lives; a failed write is skipped. */
const keepLiveStatus = (stateDir: string) =>
  Effect.gen(function*() {
    const events = yield* LoopEvents
    let status = LiveStatus.initial(new Date().toISOString())
    return yield* Effect.forkScoped(Stream.runForEach(events.subscribe, (event) =>
      Effect.sync(() => {
        const after = LiveStatus.next(status, event, new Date().toISOString())
        if (after === status) return
        status = after
        try {
          LiveStatus.write(stateDir, status)
        } catch {
          // the live page shows an older status; the run goes on
        }
      })))
  })

export const run = Effect.fn("Research.run")(function*(options: RunOptions) {
  const config = withBudget(options.config, options.budget)
  const modules = options.configModules ?? []
  const where = yield* Research.paths(options.dir, options.tag ?? Research.defaultTag(options.dir))
  const warnings = yield* Research.checkCheckout(where, config, modules)
  const proposer = options.proposer ?? config.proposer
  const runner = options.runner ?? config.runner
  const scorer = options.scorer ?? config.scorer
  if (scorer === undefined) {
    return yield* missingPlugin("scorer", "pass `scorer` (e.g. CommandScorer.layer from @autoresearch/metrics for `phases.score`) or set `scorer` in the config")
  }
  if (runner === undefined) return yield* missingPlugin("runner", "pass `runner` (e.g. LocalRunner.layer() from @autoresearch/runners) or set `runner` in the config")
  if (proposer === undefined) return yield* missingPlugin("proposer", "pass `proposer` (e.g. ReplayProposer.layer(dir)) or set `proposer` in the config")
  const onEvent = options.onEvent ?? (() => undefined)
  const started = options.onStart?.({ where, config })
  if (Effect.isEffect(started)) yield* started
  const setAside = options.fresh === true ? yield* Research.startOver(where) : undefined
  const verifySeeds = options.verifySeeds ?? config.budget.verifySeeds
  const willVerify = (best: unknown) => verifySeeds > 0 && best !== undefined && Trials.hasTestSplit(where.cacheDir)
  const services = Layer.mergeAll(Research.layer(where, config, modules), proposer, runner, scorer)
  return yield* Effect.gen(function*() {
    const journal = yield* Journal
    const events = yield* LoopEvents
    const printer = yield* follow(onEvent, config, willVerify)
    yield* keepLiveStatus(where.stateDir)
    if (setAside !== undefined) yield* events.publish({ _tag: "SetAside", what: setAside })
    for (const what of warnings) yield* events.publish({ _tag: "Warned", what })
    for (const dropped of journal.dropped) {
      yield* events.publish({
        _tag: "Warned",
        what: `${dropped.file} line ${dropped.line} was cut short (${dropped.bytes} bytes, a write interrupted by a crash): ` +
          `dropped from the record, kept in ${dropped.copy}`
      })
    }
    const summary = yield* Loop.run(config, where)
    const verification = willVerify(summary.best) ? yield* Verify.run(config, where, { seeds: verifySeeds }) : undefined
    // Everything published is handed to onEvent before the run returns.
    yield* Fiber.join(printer)
    return { summary, noise: (yield* journal.noise).at(-1), verification, where, config } satisfies RunOutcome
  }).pipe(Effect.scoped, Effect.provide(services))
})

/**
 * `run` from a plain script: resolves with the outcome; SIGINT, SIGTERM and SIGHUP stop
 * it as `autoresearch run` stops (the phase killed, the lock released) and reject with
 * `Signals.Interrupted`; the same call resumes the run.
 */
export const runPromise = (options: RunOptions): Promise<RunOutcome> => Signals.runPromise(run(options))
