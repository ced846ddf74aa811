/**
 * The `autoresearch` command: `run` opens a research run (or resumes it) and drives the
 * loop with live progress; `status` prints the experiments table of a run; `promote`
 * carries a run's best kept experiment into another research directory; `metrics`
 * compares two images; `doctor` checks the machine.
 */
import { bestEntry, Journal, type JournalEntry, Loop, LoopEvents, readJournal, Research, type ResolvedConfig } from "@autoresearch/core"
import { CommandScorer } from "@autoresearch/metrics"
import { LocalRunner } from "@autoresearch/runners"
import { Effect, Fiber, Layer, Option, Schedule, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { CliError, defaultTag, loadConfig } from "./LoadConfig.ts"
import { doctor } from "./Doctor.ts"
import { metrics } from "./MetricsCommand.ts"
import { promote } from "./PromoteCommand.ts"
import { eventLine, initialProgress, liveLine, nextProgress } from "./Progress.ts"
import { chooseProposer, proposerNames } from "./ProposerChoice.ts"
import { table } from "./Table.ts"

const dirArgument = Argument.String("dir").pipe(Argument.withDescription("The research directory (holds autoresearch.config.ts)"))
const tagFlag = Flag.String("tag").pipe(
  Flag.withDescription("Name of the research run (branch autoresearch/<tag>); defaults to the directory's name"),
  Flag.optional
)

const checkPython = (python: ReadonlyArray<string>) =>
  Effect.try({
    try: () => execFileSync(python[0]!, [...python.slice(1), "--version"], { stdio: "pipe", timeout: 30_000 }).toString().trim(),
    catch: () =>
      new CliError({ reason: `python not found: '${python.join(" ")}' (install it, or set \`python\` in autoresearch.config.ts)` })
  })

const scorerLayer = (config: ResolvedConfig) => {
  if (config.scorer !== undefined) return Effect.succeed(config.scorer)
  if (config.phases.score !== undefined) {
    return Effect.succeed(CommandScorer.layer({ command: [...config.python, ...config.phases.score], metric: config.metric.name }))
  }
  return Effect.fail(new CliError({ reason: "no scorer: set `phases.score` or `scorer` in autoresearch.config.ts" }))
}

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** Follows the loop's events: a redrawn live line on a TTY, plain lines otherwise. */
const follow = (config: ResolvedConfig, earlier: ReadonlyArray<JournalEntry>) =>
  Effect.gen(function*() {
    const events = yield* LoopEvents
    const tty = process.stdout.isTTY === true && process.env.CI === undefined
    // A resumed run shows its best so far from the start.
    const best = bestEntry(earlier, config.metric)
    let state = best === undefined
      ? initialProgress
      : { ...initialProgress, best: { id: best.id, value: best.metrics[config.metric.name]! } }
    const redraw = () => (tty ? write(`\r\x1b[2K${liveLine(state, Date.now(), config.metric)}`) : Effect.void)
    if (tty) yield* Effect.forkScoped(Effect.repeat(Effect.suspend(redraw), Schedule.spaced("1 second")))
    // Ends once it has printed LoopFinished; the caller joins it, so that nothing is left unprinted.
    const until = Stream.takeUntil(events.subscribe, (event) => event._tag === "LoopFinished")
    return yield* Effect.forkScoped(Stream.runForEach(until, (event) =>
      Effect.gen(function*() {
        state = nextProgress(state, event, Date.now(), config.metric)
        const line = eventLine(event, config.metric)
        if (line !== undefined) yield* write(`${tty ? "\r\x1b[2K" : ""}${line}\n`)
        yield* redraw()
      })))
  })

const run = Command.make(
  "run",
  {
    dir: dirArgument,
    tag: tagFlag,
    proposer: Flag.Literals("proposer", proposerNames).pipe(
      Flag.withDescription(
        "claude | openai | knob (offline search of the # @knob constants) | replay (--replay-dir) | auto: replay if --replay-dir, else the config's proposer, else Claude if ANTHROPIC_API_KEY is set, else OpenAI if OPENAI_API_KEY is set or OPENAI_BASE_URL names a server of your own, else knob"
      ),
      Flag.withDefault("auto")
    ),
    model: Flag.String("model").pipe(Flag.withDescription("For claude and openai: the model to use instead of the default"), Flag.optional),
    prefetch: Flag.Boolean("prefetch").pipe(
      Flag.withDescription("For claude and openai: prepare the next proposal while the current experiment trains"),
      Flag.withDefault(false)
    ),
    replayDir: Flag.String("replay-dir").pipe(
      Flag.withDescription("For --proposer replay: a folder whose subfolders, in name order, hold new versions of mutable files"),
      Flag.optional
    ),
    maxExperiments: Flag.Int("max-experiments").pipe(
      Flag.withDescription("Stop when the journal holds this many experiments (the baseline included)"),
      Flag.optional
    ),
    budget: Flag.Int("budget").pipe(Flag.withDescription("Training seconds per experiment (overrides the config)"), Flag.optional)
  },
  Effect.fnUntraced(function*(input) {
    const dir = path.resolve(input.dir)
    if (Option.isSome(input.budget) && input.budget.value <= 0) {
      return yield* new CliError({ reason: "--budget must be a positive number of seconds" })
    }
    const { config, modules } = yield* loadConfig(dir, {
      ...Option.match(input.maxExperiments, { onNone: () => ({}), onSome: (n) => ({ maxExperiments: n }) }),
      ...Option.match(input.budget, { onNone: () => ({}), onSome: (seconds) => ({ experimentSeconds: seconds }) })
    })
    const tag = Option.getOrElse(input.tag, () => defaultTag(dir))
    const where = yield* Research.paths(dir, tag)
    const warnings = yield* Research.checkCheckout(where, config, modules)
    for (const warning of warnings) yield* write(`warning: ${warning}\n`)
    const version = yield* checkPython(config.python)
    const proposer = yield* chooseProposer({
      choice: input.proposer,
      env: process.env,
      replayDir: Option.getOrUndefined(input.replayDir),
      config,
      ...Option.match(input.model, { onNone: () => ({}), onSome: (model) => ({ model }) }),
      prefetch: input.prefetch
    })
    const scorer = yield* scorerLayer(config)
    const runner = config.runner ?? LocalRunner.layer(config.budget.vramGb === undefined ? {} : { vramBudgetGb: config.budget.vramGb })
    const shown = (file: string) => (file.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), file) : file)
    yield* write(`autoresearch: ${dir === process.cwd() ? "." : shown(dir)} on branch ${where.branch} (${version}, proposer ${proposer.name}: ${proposer.why})\n`)
    // Only once every check has passed: a refused start leaves no state behind.
    yield* Research.sealConfigModules(where, modules)
    const services = Layer.mergeAll(Research.layer(where, config), proposer.layer, scorer, runner)
    const summary = yield* Effect.gen(function*() {
      const printer = yield* follow(config, yield* (yield* Journal).entries)
      const result = yield* Loop.run(config, where)
      yield* Fiber.join(printer)
      return result
    }).pipe(Effect.scoped, Effect.provide(services))
    yield* write(`\n${table(summary.entries, config.metric)}\n\n`)
    yield* write(`journal: ${shown(path.join(where.stateDir, "journal.jsonl"))}\nresults: ${shown(path.join(where.stateDir, "results.tsv"))}\n`)
    if (summary.best?.commit) yield* write(`best commit: ${summary.best.commit} (git checkout ${where.branch})\n`)
  })
).pipe(Command.withDescription("Run (or resume) the research loop on a research directory"))

const status = Command.make(
  "status",
  { dir: dirArgument, tag: tagFlag },
  Effect.fnUntraced(function*(input) {
    const dir = path.resolve(input.dir)
    const loaded = yield* loadConfig(dir)
    const tag = Option.getOrElse(input.tag, () => defaultTag(dir))
    const where = yield* Research.paths(dir, tag)
    const file = path.join(where.stateDir, "journal.jsonl")
    if (!fs.existsSync(file)) return yield* new CliError({ reason: `no research run '${tag}' yet (run \`autoresearch run ${input.dir}\`)` })
    const { entries } = readJournal(file)
    yield* write(`${where.branch}: ${entries.length} experiments\n${table(entries, loaded.config.metric)}\n`)
  })
).pipe(Command.withDescription("Print the experiments of a research run and the best so far"))

export const cli = Command.make("autoresearch").pipe(
  Command.withDescription("Autonomous research loops: propose, train under a budget, score, keep only improvements"),
  Command.withSubcommands([run, status, promote, metrics, doctor])
)
