/**
 * The research loop: prepare the data once, run the unmodified baseline as experiment 0,
 * then propose, commit, train, predict, score, decide and record, until a budget runs
 * out or the proposer has nothing left. It resumes from git and the journal: an
 * experiment cut short is run again, and none is recorded twice.
 */
import { Clock, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { budgetLeft, overBudget, stopReason } from "./Budgets.ts"
import type { ResolvedConfig } from "./Config.ts"
import { LoopEvents } from "./Events.ts"
import type { Experiment, Phase } from "./Experiment.ts"
import { bestEntry, Journal } from "./Journal.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { beats, type Decision, entryStatus, keepRule } from "./KeepRule.ts"
import { zeroCost, type Proposal } from "./Proposal.ts"
import { cacheLayout, experimentPhases, preparePhase } from "./Plan.ts"
import { Proposer } from "./Proposer.ts"
import { Ratchet } from "./Ratchet.ts"
import { combineRunResults, type RunResult } from "./RunResult.ts"
import { Runner } from "./Runner.ts"
import type { Score } from "./Score.ts"
import { Scorer } from "./Scorer.ts"
import { readRegularFile } from "./SafeRead.ts"
import { changedPaths, fingerprint, type Seal } from "./Seal.ts"
import { Workspace } from "./Workspace.ts"

/** Where a research run keeps its state; see `Research.paths`. */
export interface LoopPaths {
  readonly stateDir: string
  readonly cacheDir: string
  readonly runsDir: string
  /** Paths no phase may see besides the hidden targets (e.g. the repository's .git). */
  readonly hidden: ReadonlyArray<string>
}

export class LoopError extends Schema.TaggedError<LoopError>()("LoopError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export class ImmutableModified extends Schema.TaggedError<ImmutableModified>()("ImmutableModified", {
  paths: Schema.Array(Schema.String),
  when: Schema.String
}) {
  override get message() {
    return `immutable files changed ${this.when}: ${this.paths.join(", ")}`
  }
}

export interface LoopSummary {
  readonly reason: string
  readonly ran: number
  readonly best: JournalEntry | undefined
  readonly entries: ReadonlyArray<JournalEntry>
}

const finite = (record: Readonly<Record<string, number>>) =>
  Object.fromEntries(Object.entries(record).filter(([, value]) => Number.isFinite(value)))

/** The last lines of a log the experiment could have tampered with: never a FIFO or a link. */
const tail = (file: string, lines = 40) => {
  const read = readRegularFile(file, 16_384, { fromEnd: true })
  return read._tag === "Text" ? read.text.split("\n").slice(-lines).join("\n") : ""
}

export const run = Effect.fn("Loop.run")(function*(config: ResolvedConfig, paths: LoopPaths) {
  const proposer = yield* Proposer
  const runner = yield* Runner
  const scorer = yield* Scorer
  const ratchet = yield* Ratchet
  const workspace = yield* Workspace
  const journal = yield* Journal
  const events = yield* LoopEvents
  const startedMs = yield* Clock.currentTimeMillis
  const cache = cacheLayout(paths.cacheDir)
  const sources = config.sources.map((source) => path.resolve(workspace.dir, source))
  // Raw data and held-out targets are for prepare and the scorer only.
  const hiddenFromExperiments = [cache.hidden, ...sources, ...paths.hidden]

  const makeExperiment = (id: string, seed: number, phases: ReadonlyArray<Phase>, hidden: ReadonlyArray<string> = hiddenFromExperiments): Experiment => {
    const runDir = path.join(paths.runsDir, id)
    fs.rmSync(runDir, { recursive: true, force: true })
    fs.mkdirSync(runDir, { recursive: true })
    return { id, workdir: workspace.dir, runDir, seed, phases, hidden }
  }
  /** Runs the phases one by one, publishing progress; stops at the first that fails. */
  const runPhases = Effect.fnUntraced(function*(id: number, experiment: Experiment) {
    const results: Array<RunResult> = []
    for (const phase of experiment.phases) {
      yield* events.publish({ _tag: "PhaseStarted", id, phase: phase.name })
      const result = yield* runner.run({ ...experiment, phases: [phase] })
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
      const recorded = fs.readFileSync(marker, "utf8").trim()
      if (fingerprint(yield* cacheSeal) === recorded) return recorded
    }
    fs.rmSync(paths.cacheDir, { recursive: true, force: true })
    for (const dir of Object.values(cache)) fs.mkdirSync(dir, { recursive: true })
    const phase = preparePhase(config, paths.cacheDir, sources)
    if (phase !== undefined) {
      const result = yield* runPhases(-1, makeExperiment("prepare", config.seed, [phase], paths.hidden))
      if (result.status !== "ok") {
        return yield* new LoopError({
          reason: `prepare failed (${result.reason ?? result.status}); log: ${result.phases[0]?.logPath}\n${result.logTail}`
        })
      }
    }
    const value = fingerprint(yield* cacheSeal)
    fs.writeFileSync(marker, value + "\n")
    return value
  })

  /** Without a kept baseline nothing can be compared: the run stops and says how to go on. */
  const baselineFailed = (what: string) =>
    new LoopError({
      reason: `the baseline (experiment 0) ${what}. Fix ${config.phases.train.join(" ")}, commit, and start a new run with another --tag`
    })

  // Resume: put the branch back on the journal's incumbent; a candidate cut short is set aside.
  let entries = [...(yield* journal.entries)]
  const baseline = entries[0]
  if (baseline !== undefined && baseline.status !== "keep") {
    return yield* baselineFailed(`of this research run failed (${baseline.reason ?? baseline.status})`)
  }
  const keptCommit = () => [...entries].reverse().find((entry) => entry.status === "keep")?.commit
  const head = yield* ratchet.head
  const incumbentCommit = keptCommit()
  if (incumbentCommit && head !== incumbentCommit) {
    yield* ratchet.setAside(`interrupted/${entries.length}-${head.slice(0, 12)}`, head, incumbentCommit)
  }
  yield* ratchet.restore

  const dataFingerprint = yield* prepare(false)
  const recordedFingerprint = entries[0]?.fingerprint
  if (recordedFingerprint !== undefined && recordedFingerprint !== dataFingerprint) {
    return yield* new LoopError({
      reason: `the data cache changed since this research run began (${recordedFingerprint} -> ${dataFingerprint}); start a new tag`
    })
  }
  yield* events.publish({ _tag: "Prepared", fingerprint: dataFingerprint, reused: entries.length > 0 })
  const atStart = yield* sealBoth
  let cacheBaseline = atStart.cache

  // The immutable files' seal is fixed at the first start and checked on every resume.
  const sealFile = path.join(paths.stateDir, "seal.json")
  const immutableSeal = atStart.immutable
  if (fs.existsSync(sealFile)) {
    const recorded = JSON.parse(fs.readFileSync(sealFile, "utf8")) as Seal
    const changed = changedPaths(recorded, immutableSeal)
    if (changed.length > 0) return yield* new ImmutableModified({ paths: changed, when: "since this research run began" })
  } else {
    fs.writeFileSync(sealFile, JSON.stringify(immutableSeal, null, 2))
  }

  let ran = 0
  const spentUsd = () => entries.reduce((sum, entry) => sum + entry.cost.usd, 0)
  const finish = (reason: string) =>
    Effect.gen(function*() {
      const best = bestEntry(entries, config.metric)
      yield* events.publish({ _tag: "LoopFinished", reason, best })
      return { reason, ran, best, entries } satisfies LoopSummary
    })

  while (true) {
    const now = yield* Clock.currentTimeMillis
    const spent = { experiments: entries.length, elapsedSeconds: (now - startedMs) / 1000, usd: spentUsd() }
    const stop = stopReason(config.budget, spent)
    if (stop !== undefined) return yield* finish(stop)

    const id = entries.length
    const startedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
    const seconds: Record<string, number> = {}
    const timed = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function*() {
        const t0 = yield* Clock.currentTimeMillis
        const result = yield* effect
        seconds[name] = ((yield* Clock.currentTimeMillis) - t0) / 1000
        return result
      })
    const parent = yield* ratchet.head
    const incumbent = [...entries].reverse().find((entry) => entry.status === "keep")
    const incumbentValue = incumbent?.metrics[config.metric.name]

    let proposal: Proposal = { description: "baseline", hypothesis: "the unmodified code", edits: [] }
    if (id > 0) {
      const lastFailed = [...entries].reverse().find((entry) => entry.status !== "keep" && entry.status !== "discard")
      const files = yield* workspace.files
      const context = {
        program: yield* workspace.program,
        files,
        journal: entries,
        metric: config.metric,
        lastFailure: lastFailed === undefined ? undefined : {
          id: lastFailed.id,
          status: lastFailed.status,
          reason: lastFailed.reason ?? "",
          // predict runs only after train succeeded, so its log, when there is one, holds the failure
          logTail: ["predict.log", "train.log"]
            .map((log) => tail(path.join(paths.runsDir, String(lastFailed.id), log)))
            .find((text) => text !== "") ?? ""
        },
        left: budgetLeft(config.budget, spent),
        // Against the files the proposal is made on, which stay its base while a prefetched one waits.
        check: (edits: Proposal["edits"]) => Effect.asVoid(workspace.check(edits, files))
      }
      const proposed = yield* timed("propose", proposer.propose(context)).pipe(
        Effect.catchTag("ProposerExhausted", () => Effect.succeed(undefined))
      )
      if (proposed === undefined) return yield* finish(`proposer ${proposer.name} has nothing more to propose`)
      proposal = proposed
    }
    yield* events.publish({
      _tag: "ExperimentStarted",
      id,
      description: proposal.description,
      budgetSeconds: config.budget.experimentSeconds
    })

    const record = (fields: Partial<JournalEntry> & Pick<JournalEntry, "status" | "commit">) =>
      Effect.gen(function*() {
        const finishedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
        seconds.total = (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000
        const entry: JournalEntry = {
          id,
          parent: id === 0 ? null : parent,
          metrics: {},
          reported: {},
          flags: [],
          description: proposal.description,
          hypothesis: proposal.hypothesis,
          ...(proposal.source === undefined ? {} : { source: proposal.source }),
          seconds: { ...seconds },
          cost: proposal.cost ?? zeroCost,
          fingerprint: dataFingerprint,
          seed: config.seed,
          startedAt,
          finishedAt,
          ...fields
        }
        yield* journal.append(entry)
        entries = [...entries, entry]
        ran++
        return entry
      })

    if (id > 0) {
      const rejected = proposal.invalid !== undefined
        ? `no valid proposal: ${proposal.invalid}`
        : yield* workspace.apply(proposal.edits).pipe(
          Effect.as(undefined),
          Effect.catch((error) => Effect.succeed(`edit rejected: ${error.message}`))
        )
      if (rejected !== undefined) {
        yield* ratchet.restore
        const entry = yield* record({ status: "invalid", commit: null, reason: rejected })
        yield* events.publish({ _tag: "Decided", id, decision: { keep: false, reason: entry.reason!, flags: [] }, entry })
        continue
      }
    }
    const commit = id === 0 ? parent : yield* timed("commit", ratchet.commit(`autoresearch #${id}: ${proposal.description}`))

    const evaluate = Effect.fnUntraced(function*(seed: number, label: string) {
      const experiment = makeExperiment(label, seed, [])
      const result = yield* runPhases(id, { ...experiment, phases: experimentPhases(config, cache, experiment.runDir, seed) })
      const flags: Array<string> = []
      const train = result.phases.find((phase) => phase.name === "train")
      if (result.status === "ok" && train !== undefined && overBudget(train.seconds, config.budget)) flags.push("budget-exceeded")
      const after = yield* sealBoth
      const immutableChanged = changedPaths(immutableSeal, after.immutable)
      const cacheChanged = changedPaths(cacheBaseline, after.cache)
      if (immutableChanged.length > 0 || cacheChanged.length > 0) flags.push("immutable-modified")
      if (cacheChanged.length > 0) {
        const rebuilt = yield* prepare(true)
        if (rebuilt !== dataFingerprint) {
          return yield* new LoopError({ reason: `rebuilding the data cache gave another fingerprint (${rebuilt})` })
        }
        cacheBaseline = yield* cacheSeal
      }
      let score: Score | undefined
      if (result.status === "ok") {
        score = yield* scorer.score({ experiment, run: result, hiddenDir: cache.hidden, cacheDir: paths.cacheDir, stateDir: paths.stateDir, incumbent })
        score = { ...score, metrics: finite(score.metrics), reported: finite(score.reported), flags: [...new Set([...score.flags, ...flags])] }
        yield* events.publish({ _tag: "Scored", id, score })
      } else if (flags.length > 0) {
        score = { status: "invalid", reason: `immutable files changed`, metrics: {}, reported: {}, flags }
      }
      if (immutableChanged.length > 0 || cacheChanged.length > 0) {
        score = { ...score!, status: "invalid", reason: `immutable files changed: ${[...immutableChanged, ...cacheChanged].join(", ")}` }
      }
      return { result, score }
    })

    const first = yield* evaluate(config.seed, String(id))
    for (const phase of first.result.phases) seconds[phase.name] = phase.seconds
    let { score } = first
    const { result } = first
    const confirmations: Array<number> = []
    let decision: Decision
    if (id === 0) {
      const ok = result.status === "ok" && score?.status === "ok"
      const value = score?.metrics[config.metric.name]
      const belowGate = score?.gate !== undefined && value !== undefined &&
        !beats(value, score.gate.value, config.metric.direction)
      decision = ok
        ? { keep: true, reason: "baseline", flags: belowGate ? [`below-${score!.gate!.name}`] : [] }
        : { keep: false, reason: result.reason ?? score?.reason ?? "baseline failed", flags: [] }
    } else {
      const candidate = { runStatus: result.status, score }
      decision = yield* ratchet.decide({ id, commit, parent, candidate, incumbent: incumbentValue })
      if (decision.keep && config.budget.confirmRuns > 0) {
        // A keep counts only if the mean over other seeds still passes the rule.
        const values = [score!.metrics[config.metric.name]!]
        for (let k = 1; k <= config.budget.confirmRuns; k++) {
          const again = yield* evaluate(config.seed + k, `${id}-seed${config.seed + k}`)
          const value = again.score?.status === "ok" && again.result.status === "ok"
            ? again.score.metrics[config.metric.name]
            : undefined
          confirmations.push(value ?? Number.NaN)
          values.push(value ?? Number.NaN)
        }
        const mean = values.reduce((a, b) => a + b, 0) / values.length
        const confirmed = { ...score!, metrics: { ...score!.metrics, [config.metric.name]: mean } }
        const second = keepRule({ runStatus: "ok", score: confirmed }, incumbentValue, config.metric)
        if (!second.keep) {
          yield* ratchet.discard(id, commit, parent)
          decision = { ...second, reason: `not confirmed over ${values.length} seeds: ${second.reason}` }
        }
        score = confirmed
      }
    }
    const status = entryStatus(result, score, decision)
    const entry = yield* record({
      status,
      commit,
      metrics: score?.metrics ?? {},
      reported: score?.reported ?? {},
      flags: [...new Set([...(score?.flags ?? []), ...decision.flags])],
      reason: status === "keep" || result.status === "ok" ? decision.reason : (result.reason ?? result.status),
      ...(result.peakMemoryGb === undefined ? {} : { memoryGb: result.peakMemoryGb }),
      ...(result.warnings === undefined ? {} : { warnings: result.warnings }),
      ...(confirmations.length > 0 ? { confirmations: confirmations.filter(Number.isFinite) } : {})
    })
    yield* events.publish({ _tag: "Decided", id, decision, entry })
    if (id === 0 && !decision.keep) {
      return yield* baselineFailed(`failed: ${entry.reason}; log: ${result.phases.at(-1)?.logPath ?? "-"}`)
    }
  }
})
