/**
 * The `autoresearch` command: `run` opens a research run (or resumes it) and drives the
 * loop with live progress, a thin shell over `Autoresearch.run` (the SDK's `Research.run`
 * with the CLI's defaults); `status` prints the experiments table of a run; `promote`
 * carries a run's best kept experiment into another research directory; `metrics`
 * compares two images; `doctor` checks the machine.
 */
import {
  type Dropped,
  Journal,
  type LoopEvent,
  Loop,
  LoopEvents,
  readJournal,
  readNoise,
  readVerifications,
  Research,
  Verify
} from "@autoresearch/core"
import { Cause, Effect, Fiber, Layer, Option, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as fs from "node:fs"
import * as path from "node:path"
import { CliError, defaultTag, loadConfig } from "./LoadConfig.ts"
import { doctor } from "./Doctor.ts"
import { metrics } from "./MetricsCommand.ts"
import { open, shown, write } from "./Open.ts"
import { promote } from "./PromoteCommand.ts"
import * as Autoresearch from "./Autoresearch.ts"
import { eventLine, terminal } from "./Progress.ts"
import { proposerNames } from "./ProposerChoice.ts"
import { noiseLine, table, verifyTable } from "./Table.ts"
import { collect, writeReport } from "./Report.ts"
import { serve } from "./Serve.ts"

const dirArgument = Argument.String("dir").pipe(Argument.withDescription("The research directory (holds autoresearch.config.ts)"))
const tagFlag = Flag.String("tag").pipe(
  Flag.withDescription("Name of the research run (branch autoresearch/<tag>); defaults to the directory's name"),
  Flag.optional
)

const portFlag = Flag.Int("port").pipe(Flag.withDescription("Port of the live page (0: any free one)"), Flag.withDefault(8377))
const hostFlag = Flag.String("host").pipe(
  Flag.withDescription("Address the live page binds to (default 127.0.0.1; another one shows the run to that network)"),
  Flag.optional
)

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
    budget: Flag.Int("budget").pipe(Flag.withDescription("Training seconds per experiment (overrides the config)"), Flag.optional),
    threads: Flag.Int("threads").pipe(
      Flag.withDescription("CPU threads each phase may use (sets AUTORESEARCH_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS; overrides budget.threads; default every core)"),
      Flag.optional
    ),
    workers: Flag.Int("workers").pipe(
      Flag.withDescription("Experiments in flight at once, each in its own worktree, with a GPU or a share of the cores (overrides budget.workers; default 1)"),
      Flag.optional
    ),
    verifySeeds: Flag.Int("verify-seeds").pipe(
      Flag.withDescription("At the end, verify the best and the baseline with this many fresh seeds where the data has a test split (0: no verify; default budget.verifySeeds, else 2)"),
      Flag.optional
    ),
    fresh: Flag.Boolean("fresh").pipe(
      Flag.withDescription("Start the tag over: its earlier run's refs, branch head and state files are set aside under previous/<time>/, and the branch restarts at HEAD"),
      Flag.withDefault(false)
    ),
    runner: Flag.Literals("runner", ["config", "local", "slurm"]).pipe(
      Flag.withDescription("config (the config's runner, else local) | local (phases as sandboxed subprocesses here) | slurm (each phase a Slurm batch job, sandboxed on its node)"),
      Flag.withDefault("config")
    ),
    serve: Flag.Boolean("serve").pipe(
      Flag.withDescription("Also serve the live page of the run (as `autoresearch serve`) while it goes"),
      Flag.withDefault(false)
    ),
    port: portFlag,
    host: hostFlag
  },
  Effect.fnUntraced(function*(input) {
    if (Option.isSome(input.budget) && input.budget.value <= 0) {
      return yield* new CliError({ reason: "--budget must be a positive number of seconds" })
    }
    if (Option.isSome(input.threads) && input.threads.value < 1) {
      return yield* new CliError({ reason: "--threads must be 1 or more" })
    }
    if (Option.isSome(input.workers) && input.workers.value < 1) {
      return yield* new CliError({ reason: "--workers must be 1 or more" })
    }
    if (Option.isSome(input.verifySeeds) && input.verifySeeds.value < 0) {
      return yield* new CliError({ reason: "--verify-seeds must be 0 (no verify) or more" })
    }
    if (Option.isSome(input.maxExperiments) && input.maxExperiments.value < 1) {
      return yield* new CliError({ reason: "--max-experiments must be 1 or more (the baseline counts as one)" })
    }
    // Checked now: the replay proposer would find it missing only once the baseline has trained.
    if (Option.isSome(input.replayDir)) yield* checkReplayDir(input.replayDir.value)
    const tty = process.stdout.isTTY === true && process.env.CI === undefined
    const { summary, noise, verification, where, config } = yield* Effect.gen(function*() {
      const onEvent = yield* terminal(write, tty)
      if (input.serve) {
        // The page reads the run's files, so it can start before the run does.
        const dir = path.resolve(input.dir)
        const { config } = yield* loadConfig(dir)
        const tag = Option.getOrElse(input.tag, () => defaultTag(dir))
        const served = yield* serve({
          where: yield* Research.paths(dir, tag),
          tag,
          metric: config.metric,
          port: input.port,
          ...Option.match(input.host, { onNone: () => ({}), onSome: (host) => ({ host }) })
        })
        yield* write(`live page: ${served.url}\n`)
      }
      return yield* Autoresearch.run({
        dir: input.dir,
        ...Option.match(input.tag, { onNone: () => ({}), onSome: (tag) => ({ tag }) }),
        proposer: input.proposer,
        ...Option.match(input.replayDir, { onNone: () => ({}), onSome: (replayDir) => ({ replayDir }) }),
        ...Option.match(input.model, { onNone: () => ({}), onSome: (model) => ({ model }) }),
        prefetch: input.prefetch,
        budget: {
          ...Option.match(input.maxExperiments, { onNone: () => ({}), onSome: (n) => ({ maxExperiments: n }) }),
          ...Option.match(input.budget, { onNone: () => ({}), onSome: (seconds) => ({ experimentSeconds: seconds }) }),
          ...Option.match(input.threads, { onNone: () => ({}), onSome: (threads) => ({ threads }) }),
          ...Option.match(input.workers, { onNone: () => ({}), onSome: (workers) => ({ workers }) })
        },
        ...Option.match(input.verifySeeds, { onNone: () => ({}), onSome: (verifySeeds) => ({ verifySeeds }) }),
        fresh: input.fresh,
        runnerChoice: input.runner,
        onStart: (started) =>
          write(
            `autoresearch: ${started.dir === process.cwd() ? "." : shown(started.dir)} on branch ${started.where.branch} (${started.python}, proposer ${started.proposer.name}: ${started.proposer.why})\n`
          ),
        onEvent
      })
    }).pipe(Effect.scoped)
    yield* write(`\n${table(summary.entries, config.metric, noise)}\n${noiseLine(noise, config.metric)}\n\n`)
    if (verification !== undefined) yield* write(`${verifyTable(verification)}\n\n`)
    yield* write(`journal: ${shown(path.join(where.stateDir, "journal.jsonl"))}\nresults: ${shown(path.join(where.stateDir, "results.tsv"))}\n`)
    if (summary.best?.commit) yield* write(`best commit: ${summary.best.commit} (git checkout ${where.branch})\n`)
    // Every run ends with its report; a failure to write it costs the run nothing.
    const out = path.join(where.stateDir, "report.html")
    yield* writeReport(where, { tag: path.basename(where.stateDir), metric: config.metric, out }).pipe(
      Effect.flatMap(() => write(`report: ${shown(out)}\n`)),
      Effect.catchCause((cause) => write(`warning: the report was not written: ${Cause.pretty(cause).split("\n")[0]}\n`))
    )
  })
).pipe(Command.withDescription("Run (or resume) the research loop on a research directory"))

/** Loads what a reader of a run needs: the config's metric and the run's paths; the journal must exist. */
const openRun = Effect.fnUntraced(function*(input: { readonly dir: string; readonly tag: Option.Option<string> }) {
  const dir = path.resolve(input.dir)
  const loaded = yield* loadConfig(dir)
  const tag = Option.getOrElse(input.tag, () => defaultTag(dir))
  const where = yield* Research.paths(dir, tag)
  if (!fs.existsSync(path.join(where.stateDir, "journal.jsonl"))) {
    return yield* new CliError({ reason: `no research run '${tag}' yet (run \`autoresearch run ${input.dir}\`)` })
  }
  return { dir, tag, where, config: loaded.config }
})

/** Refuses a --replay-dir that is not a folder, before anything runs. */
const checkReplayDir = (dir: string) => {
  const full = path.resolve(dir)
  const stats = fs.statSync(full, { throwIfNoEntry: false })
  if (stats === undefined) return Effect.fail(new CliError({ reason: `replay folder not found: ${full} (--replay-dir)` }))
  if (!stats.isDirectory()) return Effect.fail(new CliError({ reason: `replay folder ${full} is not a directory (--replay-dir)` }))
  return Effect.void
}

/** Says which lines cut short by a crash opening the journal dropped, and where each is kept. */
const warnDropped = (lines: ReadonlyArray<Dropped>) =>
  Effect.forEach(lines, (dropped) =>
    write(
      `warning: ${shown(dropped.file)} line ${dropped.line} was cut short (${dropped.bytes} bytes, a write interrupted by a crash): ` +
        `dropped from the record, kept in ${shown(dropped.copy)}\n`
    ), { discard: true })

/** Runs `effect` once the journal's dropped lines, if any, have been warned of. */
const afterDropped = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    yield* warnDropped((yield* Journal).dropped)
    return yield* effect
  })

/**
 * Prints the line of each event of the `tags` while `effect` runs. Only those: a new
 * subscriber is replayed the loop's last events, which were printed already.
 */
const followWhile = <A, E, R>(effect: Effect.Effect<A, E, R>, metric: string, tags: ReadonlyArray<LoopEvent["_tag"]>) =>
  Effect.gen(function*() {
    const events = yield* LoopEvents
    const printer = yield* Effect.forkScoped(Stream.runForEach(events.subscribe, (event) => {
      const line = tags.includes(event._tag) ? eventLine(event, { name: metric }) : undefined
      return line === undefined ? Effect.void : write(`${line}\n`)
    }))
    const result = yield* effect
    // Let the printer catch up with what was published before stopping it.
    yield* Effect.yieldNow
    yield* Fiber.interrupt(printer)
    return result
  })

/** Opens a research run for a command that trains without proposing: `noise` and `verify`. */
const openForTrials = Effect.fnUntraced(function*(input: { readonly dir: string; readonly tag: Option.Option<string> }) {
  const opened = yield* open(input)
  return { ...opened, services: Layer.mergeAll(Research.layer(opened.where, opened.config, opened.modules), opened.scorer, opened.runner) }
})

const noise = Command.make(
  "noise",
  {
    dir: dirArgument,
    tag: tagFlag,
    runs: Flag.Int("runs").pipe(Flag.withDescription("Trainings of the research branch's head, each with its own seed"), Flag.withDefault(4))
  },
  Effect.fnUntraced(function*(input) {
    if (input.runs < 2) return yield* new CliError({ reason: "--runs must be 2 or more: a spread needs two values" })
    const { config, where, services } = yield* openForTrials(input)
    const floor = yield* afterDropped(followWhile(Loop.noise(config, where, input.runs), config.metric.name, ["Repaired", "Prepared", "PhaseFinished", "NoiseRun", "NoiseMeasured"])).pipe(Effect.scoped, Effect.provide(services))
    yield* write(`${noiseLine(floor, config.metric)}\nvalues: ${floor.values.map((value, k) => `seed ${floor.seeds[k]} ${value.toFixed(4)}`).join(", ")}\n`)
  })
).pipe(Command.withDescription("Measure the noise floor: train the branch head several times with different seeds and record the spread"))

const verify = Command.make(
  "verify",
  {
    dir: dirArgument,
    tag: tagFlag,
    commit: Flag.String("commit").pipe(Flag.withDescription("A kept commit to verify (default: the best kept one)"), Flag.optional),
    seeds: Flag.Int("seeds").pipe(Flag.withDescription("Fresh seeds to train each commit with"), Flag.withDefault(2))
  },
  Effect.fnUntraced(function*(input) {
    if (input.seeds < 1) return yield* new CliError({ reason: "--seeds must be 1 or more" })
    const { config, where, services } = yield* openForTrials(input)
    const verification = yield* afterDropped(followWhile(
      Verify.run(config, where, { commit: Option.getOrUndefined(input.commit), seeds: input.seeds }),
      config.metric.name,
      ["Repaired", "Prepared", "PhaseFinished", "VerifyRun"]
    )).pipe(
      Effect.scoped,
      Effect.provide(services)
    )
    yield* write(`\n${verifyTable(verification)}\n`)
  })
).pipe(Command.withDescription("Train the best kept commit and the baseline again with fresh seeds; score validation and the held-out test split"))

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
    const { entries, cutShort } = readJournal(file)
    if (cutShort !== undefined) {
      yield* write(`warning: ${shown(file)} line ${cutShort.line} was cut short by a crash; the next run drops it, and keeps a copy\n`)
    }
    const noise = readNoise(path.join(where.stateDir, "noise.jsonl")).entries.at(-1)
    const verification = readVerifications(path.join(where.stateDir, "verify.jsonl")).entries.at(-1)
    yield* write(`${where.branch}: ${entries.length} experiments\n${table(entries, loaded.config.metric, noise)}\n${noiseLine(noise, loaded.config.metric)}\n`)
    if (verification !== undefined) yield* write(`\n${verifyTable(verification)}\n`)
  })
).pipe(Command.withDescription("Print the experiments of a research run, the noise floor, and the last verification"))

const report = Command.make(
  "report",
  {
    dir: dirArgument,
    tag: tagFlag,
    out: Flag.String("out").pipe(Flag.withDescription("Where to write the report (default: report.html in the run's state folder)"), Flag.optional),
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the summary as JSON instead (to --out when given), for scripts"),
      Flag.withDefault(false)
    )
  },
  Effect.fnUntraced(function*(input) {
    const { tag, where, config } = yield* openRun(input)
    if (input.json) {
      const data = yield* collect(where, { tag, metric: config.metric })
      const text = JSON.stringify(data.summary, null, 2) + "\n"
      if (Option.isSome(input.out)) {
        fs.writeFileSync(path.resolve(input.out.value), text)
        return yield* write(`summary: ${shown(path.resolve(input.out.value))}\n`)
      }
      return yield* write(text)
    }
    const out = Option.match(input.out, { onNone: () => path.join(where.stateDir, "report.html"), onSome: (file) => path.resolve(file) })
    const data = yield* writeReport(where, { tag, metric: config.metric, out })
    yield* write(`report: ${shown(out)} (${data.summary.experiments} experiments; open it in a browser, it needs no network)\n`)
  })
).pipe(Command.withDescription("Write a self-contained HTML report of a research run: charts, the experiments with their diffs and logs, images"))

const serveCommand = Command.make(
  "serve",
  { dir: dirArgument, tag: tagFlag, port: portFlag, host: hostFlag },
  Effect.fnUntraced(function*(input) {
    const { tag, where, config } = yield* openRun(input)
    const served = yield* serve({
      where,
      tag,
      metric: config.metric,
      port: input.port,
      ...Option.match(input.host, { onNone: () => ({}), onSome: (host) => ({ host }) })
    })
    yield* write(`live page of ${where.branch}: ${served.url} (read-only; Ctrl-C stops it)\n`)
    return yield* Effect.never
  }, Effect.scoped)
).pipe(Command.withDescription("Serve a live page of a research run, updated as experiments finish (read-only, 127.0.0.1 by default)"))

export const cli = Command.make("autoresearch").pipe(
  Command.withDescription("Autonomous research loops: propose, train under a budget, score, keep only improvements"),
  Command.withSubcommands([run, status, report, serveCommand, noise, verify, promote, metrics, doctor])
)
