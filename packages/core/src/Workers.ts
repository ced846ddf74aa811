/**
 * Parallel experiments (`budget.workers`, `--workers K`): K candidates in flight, each in
 * a detached worktree of its own (`<state>/workers/<k>`) with its own run directory, and
 * a share of the machine: the runner leases each phase a GPU from its pool where there
 * are GPUs, and every phase gets the CPU cores divided among the workers as its thread
 * count (`budget.threads`, when set, instead).
 *
 * Proposals are made one at a time, and the proposer sees what is in flight. Ids are given
 * at start and the start is recorded (`started.jsonl`) with the proposal, so a run killed
 * with K in flight runs exactly those again on resume, under their ids. When a candidate
 * ends, `settle` (Settle.ts) decides under one lock whether the branch advances to it, its
 * edits are re-applied onto the moved head as a new experiment, or it is set aside: the
 * branch stays linear and every kept commit was measured as committed, on its parent.
 */
import { Clock, Effect, Semaphore } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { budgetLeft, stopReason } from "./Budgets.ts"
import { entryOf, lastFailure, measureCandidate, timer } from "./Candidate.ts"
import type { ResolvedConfig } from "./Config.ts"
import type { RunEnvironment } from "./Environment.ts"
import { LoopEvents } from "./Events.ts"
import * as GitRatchet from "./GitRatchet.ts"
import { createRef, git, refPrefix } from "./GitRatchet.ts"
import { Journal } from "./Journal.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import { incumbentValue, type NoiseFloor, threshold } from "./Noise.ts"
import type { Proposal } from "./Proposal.ts"
import { Proposer } from "./Proposer.ts"
import { Ratchet } from "./Ratchet.ts"
import { settle } from "./Settle.ts"
import * as Trials from "./Trials.ts"
import { makeWorkspace, Workspace } from "./Workspace.ts"

/** Where the workers live: the research run's paths, with its repository and branch. */
export interface WorkerPaths extends Trials.LoopPaths {
  readonly repoRoot: string
  /** The research directory, relative to the repository root. */
  readonly relative: string
  /** The research branch's own worktree (the head's files, for proposals). */
  readonly worktree: string
  readonly branch: string
}

export interface WorkersInput {
  readonly config: ResolvedConfig
  readonly paths: WorkerPaths
  readonly entries: ReadonlyArray<JournalEntry>
  readonly noise: NoiseFloor | undefined
  readonly dataFingerprint: string
  readonly env: RunEnvironment | undefined
  readonly startedMs: number
}

/** One experiment handed to a worker. */
interface Job {
  readonly id: number
  readonly proposal: Proposal
  readonly parent: string
  readonly incumbent: JournalEntry | undefined
  readonly incumbentMetric: number | undefined
  readonly minDelta: number
  readonly from: number | undefined
  readonly reapplied: number
  readonly startedAt: string
  /** Seconds spent before the worker got it (proposing). */
  readonly seconds: Readonly<Record<string, number>>
}

/** What is waiting to run before anything new is proposed: re-applications and what a killed run had in flight. */
interface Pending {
  readonly id?: number
  readonly proposal: Proposal
  readonly from: number | undefined
  readonly reapplied: number
}

/** The thread count each worker's phases get: the config's, else the cores divided among the workers. */
export const threadsPerWorker = (workers: number, configured: number | undefined, cores = os.availableParallelism()) =>
  configured ?? Math.max(1, Math.floor(cores / workers))

/** A detached worktree at `commit` in `dir`, made or repaired; the experiment checks out its own parent. */
const ensureSlot = Effect.fnUntraced(function*(repoRoot: string, dir: string, commit: string) {
  const toplevel = fs.existsSync(path.join(dir, ".git"))
    ? yield* git(dir, ["rev-parse", "--show-toplevel"]).pipe(Effect.orElseSucceed(() => ""))
    : ""
  if (toplevel !== "" && fs.realpathSync(toplevel) === fs.realpathSync(dir)) return
  fs.rmSync(dir, { recursive: true, force: true })
  yield* git(repoRoot, ["worktree", "prune"])
  fs.mkdirSync(path.dirname(dir), { recursive: true })
  yield* git(repoRoot, ["worktree", "add", "--detach", "--quiet", dir, commit])
})

export const run = Effect.fnUntraced(function*(input: WorkersInput) {
  const { config, paths } = input
  const proposer = yield* Proposer
  const journal = yield* Journal
  const events = yield* LoopEvents
  const main = yield* Workspace
  // The research branch's own worktree: its head is the incumbent, `restore` puts its files there.
  const ratchet = yield* Ratchet
  const count = config.budget.workers ?? 1
  const threads = String(threadsPerWorker(count, config.budget.threads))
  const slotEnv = { AUTORESEARCH_THREADS: threads, OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads }
  const head = ratchet.head
  const minDelta = threshold(config.metric.minDelta, input.noise) ?? 0

  const entries = [...input.entries]
  const started = yield* journal.started
  const finished = new Set(entries.map((entry) => entry.id))
  // What a killed run had in flight runs again under its id (its latest start counts); then new proposals.
  const inFlightAtKill = new Map(started.filter((start) => !finished.has(start.id)).map((start) => [start.id, start]))
  const pending: Array<Pending> = [...inFlightAtKill.values()].map((start) => ({
    id: start.id,
    proposal: start.proposal,
    from: start.from,
    reapplied: start.reapplied
  }))
  let nextId = Math.max(-1, ...entries.map((entry) => entry.id), ...started.map((start) => start.id)) + 1
  const running = new Map<number, Proposal>()
  let stopped: string | undefined
  let ran = 0
  // The lock guards the branch, the main worktree, the journal and this state; proposals take turns apart from it.
  const lock = yield* Semaphore.make(1)
  const proposing = yield* Semaphore.make(1)
  const lastKept = () => [...entries].reverse().find((entry) => entry.status === "keep")
  const spent = (now: number) => ({
    experiments: entries.length + running.size,
    elapsedSeconds: (now - input.startedMs) / 1000,
    usd: entries.reduce((sum, entry) => sum + entry.cost.usd, 0)
  })

  /** Hands `next` to a worker, under the lock: its id, its parent (the head its proposal saw), its start recorded. */
  const hand = (next: Pending, parent: string, proposedMs: number | undefined) =>
    Effect.gen(function*() {
      const id = next.id ?? nextId++
      const incumbent = lastKept()
      const handed = yield* Clock.currentTimeMillis
      const job: Job = {
        id,
        proposal: next.proposal,
        parent,
        incumbent,
        incumbentMetric: incumbentValue(incumbent, config.metric.name, input.noise),
        minDelta,
        from: next.from,
        reapplied: next.reapplied,
        startedAt: new Date(handed).toISOString(),
        seconds: proposedMs === undefined ? {} : { propose: (handed - proposedMs) / 1000 }
      }
      running.set(id, job.proposal)
      yield* journal.appendStarted({
        id,
        parent,
        proposal: job.proposal,
        ...(job.from === undefined ? {} : { from: job.from }),
        reapplied: job.reapplied,
        startedAt: job.startedAt
      })
      yield* events.publish({ _tag: "ExperimentStarted", id, description: job.proposal.description, budgetSeconds: config.budget.experimentSeconds })
      return job
    })

  /**
   * The next experiment: what waits first (re-applications, what a killed run had in
   * flight), else a new proposal. Proposals are made one at a time, on a snapshot taken
   * under the lock (the head's files, the journal, what is in flight), and the model's
   * answer is awaited outside it, so the other workers settle meanwhile.
   */
  const takeNext = proposing.withPermits(1)(Effect.gen(function*() {
    const snapshot = yield* lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const stop = stopReason(config.budget, spent(now))
      if (stop !== undefined) {
        stopped ??= stop
        return undefined
      }
      const waiting = pending.shift()
      if (waiting !== undefined) return { job: yield* hand(waiting, yield* head, undefined) }
      if (stopped !== undefined) return undefined
      const files = yield* main.files
      return {
        parent: yield* head,
        context: {
          program: yield* main.program,
          files,
          journal: [...entries],
          metric: { ...config.metric, minDelta },
          lastFailure: lastFailure(entries),
          left: budgetLeft(config.budget, spent(now)),
          check: (edits: Proposal["edits"]) => Effect.asVoid(main.check(edits, files)),
          inFlight: [...running.values()]
        }
      }
    }))
    if (snapshot === undefined) return undefined
    if ("job" in snapshot) return snapshot.job
    const proposedMs = yield* Clock.currentTimeMillis
    const proposed = yield* proposer.propose(snapshot.context).pipe(Effect.catchTag("ProposerExhausted", () => Effect.succeed(undefined)))
    return yield* lock.withPermits(1)(Effect.gen(function*() {
      if (proposed === undefined) {
        stopped ??= `proposer ${proposer.name} has nothing more to propose`
        return undefined
      }
      return yield* hand({ proposal: proposed, from: undefined, reapplied: 0 }, snapshot.parent, proposedMs)
    }))
  }))

  /** Records how a job ended, under the lock: the branch advances, the edits wait to be re-applied, or the commit is set aside. */
  const finish = (job: Job, commit: string | null, fields: Partial<JournalEntry> & Pick<JournalEntry, "status">, seconds: Record<string, number>) =>
    Effect.flatMap(Clock.currentTimeMillis, (waiting) => lock.withPermits(1)(Effect.gen(function*() {
      let recorded = fields
      if (commit !== null) {
        const now = yield* head
        const outcome = settle({ keep: fields.status === "keep", parent: job.parent, head: now, reapplied: job.reapplied })
        if (outcome._tag === "Advance") {
          // Only from its parent: git refuses if the branch moved, which the lock rules out.
          yield* git(paths.repoRoot, ["update-ref", `refs/heads/${paths.branch}`, commit, job.parent])
          yield* ratchet.restore
        } else {
          yield* createRef(paths.repoRoot, `${refPrefix(paths.branch)}/discarded/${job.id}`, commit)
          if (outcome._tag === "Reapply") pending.unshift({ proposal: job.proposal, from: job.id, reapplied: job.reapplied + 1 })
          if (outcome.reason !== undefined) recorded = { ...fields, status: "discard", reason: `${fields.reason ?? "kept"}; ${outcome.reason}` }
        }
      }
      // Waiting for the lock and moving git, both included.
      seconds.settle = ((yield* Clock.currentTimeMillis) - waiting) / 1000
      const entry = entryOf({
        id: job.id,
        parent: job.parent,
        proposal: job.proposal,
        seconds,
        fingerprint: input.dataFingerprint,
        seed: config.seed,
        env: input.env,
        startedAt: job.startedAt,
        finishedAt: new Date(yield* Clock.currentTimeMillis).toISOString()
      }, { commit, ...recorded, ...(job.from === undefined ? {} : { from: job.from }) })
      yield* journal.append(entry)
      entries.push(entry)
      running.delete(job.id)
      ran++
      const keep = entry.status === "keep"
      yield* events.publish({
        _tag: "Decided",
        id: job.id,
        decision: { keep, status: entry.status, reason: entry.reason ?? "", flags: [...entry.flags], metrics: entry.metrics },
        entry
      })
    })))

  /** One worker: its worktree and trials, then experiment after experiment until nothing is left. */
  const worker = (k: number) =>
    Effect.gen(function*() {
      const dir = path.join(paths.stateDir, "workers", String(k))
      yield* ensureSlot(paths.repoRoot, dir, yield* head)
      const space = makeWorkspace(path.join(dir, paths.relative), config)
      // The worker's worktree, off the branch: checked out at each job's parent, where its candidate is committed.
      const slot = GitRatchet.make({ worktree: dir, branch: paths.branch })
      const trials = yield* Trials.open(config, paths, { fingerprint: input.dataFingerprint, resumed: true, env: slotEnv }).pipe(
        Effect.provideService(Workspace, space)
      )
      while (true) {
        const job = yield* takeNext
        if (job === undefined) return
        const seconds: Record<string, number> = { ...job.seconds }
        const timed = timer(seconds)
        yield* timed("checkout", slot.checkout(job.parent))
        const rejected = job.proposal.invalid !== undefined
          ? `no valid proposal: ${job.proposal.invalid}`
          : yield* timed("apply", space.apply(job.proposal.edits)).pipe(
            Effect.as(undefined),
            Effect.catch((error) => Effect.succeed(`edit rejected: ${error.message}`))
          )
        if (rejected !== undefined) {
          yield* finish(job, null, { status: "invalid", reason: rejected }, seconds)
          continue
        }
        const commit = yield* timed("commit", slot.commit(`autoresearch #${job.id}: ${job.proposal.description}`))
        const measured = yield* measureCandidate(config, trials, {
          id: job.id,
          incumbent: job.incumbent,
          incumbentMetric: job.incumbentMetric,
          minDelta: job.minDelta,
          seconds,
          // The worktree holds the candidate as committed: the confirmation runs train it as it is.
          beforeConfirm: Effect.void
        })
        yield* finish(job, commit, measured.fields, seconds)
      }
    })

  yield* Effect.all(Array.from({ length: count }, (_, k) => worker(k)), { concurrency: "unbounded", discard: true })
  return { reason: stopped ?? `proposer ${proposer.name} has nothing more to propose`, ran, entries }
})
