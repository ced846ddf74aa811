import { it } from "@effect/vitest"
import {
  Loop,
  Proposer,
  ReplayProposer,
  Research,
  resolveConfig,
  type ResolvedConfig,
  type Runner,
  Scorer,
  ScorerError
} from "@autoresearch/core"
import { CommandScorer } from "@autoresearch/metrics"
import { LocalRunner, Sandbox } from "@autoresearch/runners"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import toyConfig from "../../../examples/toy/autoresearch.config.ts"
import { branchHead, discardedRef, git, readJournal, type ToyRepo, toyRepos, toyTrain, worktreeStatus, writeCandidate } from "./fixtures.ts"

const sandboxWorks = (await Effect.runPromise(Sandbox.probe())).available

const newRepo = toyRepos()

/** A proposer that raises DEGREE by one each time and reports a fixed cost per proposal. */
const degreeProposer = (usd: number) =>
  Layer.succeed(Proposer, Proposer.of({
    name: "degree",
    propose: (context) =>
      Effect.succeed({
        description: `degree ${context.journal.length + 3}`,
        hypothesis: "more powers fit the curve better",
        edits: [{ path: "train.py", search: "", replace: toyTrain({ DEGREE: String(context.journal.length + 3), STEPS: "400" }) }],
        cost: { inputTokens: 1000, outputTokens: 100, cachedTokens: 0, usd }
      })
  }))

const runLoop = (
  repo: ToyRepo,
  tag: string,
  budget: Partial<ResolvedConfig["budget"]> = {},
  proposer: Layer.Layer<Proposer> = ReplayProposer.layer(repo.candidates),
  runner: Layer.Layer<Runner> = LocalRunner.layer(),
  scorer: Layer.Layer<Scorer> = CommandScorer.layer({ command: ["python3", "prepare.py", "score"], metric: "val_mse" })
) =>
  Effect.gen(function*() {
    const base = resolveConfig(toyConfig)
    const config: ResolvedConfig = { ...base, budget: { ...base.budget, maxExperiments: 20, ...budget } }
    const where = yield* Research.paths(repo.research, tag)
    const layer = Layer.mergeAll(
      Research.layer(where, config),
      proposer,
      scorer,
      runner
    )
    const summary = yield* Loop.run(config, where).pipe(Effect.scoped, Effect.provide(layer))
    return { summary, where }
  })

const better = { DEGREE: "5", LEARNING_RATE: "0.1", STEPS: "1500" }

/** Two candidates that train well, then write to prepare.py and to their training data. */
const writeTamperers = (repo: ToyRepo) => {
  writeCandidate(repo, "a-tamper-prepare", "rewrites prepare.py", {
    "train.py": toyTrain(better, "\nopen('prepare.py', 'a').write('# tampered\\n')\n")
  })
  writeCandidate(repo, "b-tamper-cache", "rewrites its training data", {
    "train.py": toyTrain(better, "\nopen(os.path.join(DATA_DIR, 'data.json'), 'a').write(' ')\n")
  })
}

describe("the loop on the toy research directory", () => {
  it.live("keeps an improvement, discards a regression, records a crash, with the git state after each", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const start = git(repo.root, "rev-parse", "HEAD")
      writeCandidate(repo, "a-better", "degree 5", { "train.py": toyTrain({ DEGREE: "5", LEARNING_RATE: "0.1", STEPS: "1500" }) })
      writeCandidate(repo, "b-worse", "degree 1", { "train.py": toyTrain({ DEGREE: "1" }) })
      writeCandidate(repo, "c-crash", "crashes", { "train.py": toyTrain({}, "\nraise RuntimeError('boom at the end')\n") })
      const { summary } = yield* runLoop(repo, "flows")
      const journal = readJournal(repo, "flows")
      expect(journal.map((entry) => [entry.id, entry.status])).toEqual([[0, "keep"], [1, "keep"], [2, "discard"], [3, "crash"]])
      expect(summary.reason).toContain("nothing more to propose")

      // baseline: the unmodified commit, no new commit made
      expect(journal[0]!.commit).toBe(start)
      expect(journal[0]!.metrics.val_mse).toBeGreaterThan(0)
      expect(journal[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/)
      // keep: the branch advanced to the candidate, whose parent is the baseline
      expect(journal[1]!.parent).toBe(start)
      expect(journal[1]!.metrics.val_mse).toBeLessThan(journal[0]!.metrics.val_mse)
      expect(git(repo.root, "rev-parse", `${journal[1]!.commit}^`)).toBe(start)
      // discard and crash: commits set aside under refs/autoresearch/<tag>/discarded/<id>, branch reset
      expect(discardedRef(repo, "flows", 2)).toBe(journal[2]!.commit)
      expect(discardedRef(repo, "flows", 3)).toBe(journal[3]!.commit)
      expect(journal[3]!.reason).toContain("RuntimeError: boom at the end")
      expect(journal[2]!.parent).toBe(journal[1]!.commit)
      expect(branchHead(repo, "flows")).toBe(journal[1]!.commit)
      expect(worktreeStatus(repo, "flows")).toBe("")
      // the user's checkout is untouched
      expect(git(repo.root, "rev-parse", "HEAD")).toBe(start)
      expect(git(repo.root, "status", "--porcelain")).toBe("")
      expect(summary.best?.id).toBe(1)
      // reported numbers are kept apart from the scorer's
      expect(journal[1]!.reported.train_mse).toBeGreaterThan(0)
      expect(journal[1]!.flags).toEqual([])
      const tsv = fs.readFileSync(path.join(repo.stateDir("flows"), "results.tsv"), "utf8").trim().split("\n")
      expect(tsv[0]).toBe("commit\tval_mse\tmean_mse\tmemory_gb\tstatus\tdescription")
      expect(tsv.slice(1).map((row) => row.split("\t")[4])).toEqual(["keep", "keep", "discard", "crash"])
    }))

  it.live("rejects an edit to an immutable file and a syntax error as invalid, with no commit", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "a-prepare", "edits prepare.py", { "prepare.py": "print('hacked')\n" })
      writeCandidate(repo, "b-syntax", "syntax error", { "train.py": toyTrain({}, "\ndef broken(:\n") })
      yield* runLoop(repo, "invalid")
      const journal = readJournal(repo, "invalid")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "invalid", "invalid"])
      expect(journal[1]!.commit).toBeNull()
      expect(journal[1]!.reason).toContain("prepare.py: not a mutable file")
      expect(journal[2]!.reason).toContain("SyntaxError")
      expect(branchHead(repo, "invalid")).toBe(journal[0]!.commit)
      expect(git(repo.root, "rev-list", "--count", "refs/heads/autoresearch/invalid")).toBe("1")
      expect(worktreeStatus(repo, "invalid")).toBe("")
    }))

  it.live("voids a run that modifies an immutable file or the data cache (immutable-modified) and repairs both", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeTamperers(repo)
      writeCandidate(repo, "c-honest", "degree 5", { "train.py": toyTrain(better) })
      // Unsandboxed, the tampering happens and the seal catches it (in the sandbox, see below, it cannot happen).
      yield* runLoop(repo, "tamper", {}, undefined, LocalRunner.layer({ sandbox: "off" }))
      const journal = readJournal(repo, "tamper")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "invalid", "invalid", "keep"])
      for (const entry of journal.slice(1, 3)) {
        expect(entry.flags).toContain("immutable-modified")
        expect(discardedRef(repo, "tamper", entry.id)).toBe(entry.commit)
      }
      expect(journal[1]!.reason).toContain("prepare.py")
      expect(journal[2]!.reason).toContain("cache/train/data.json")
      // the honest candidate ran on intact files and data: same fingerprint, kept
      expect(journal[3]!.fingerprint).toBe(journal[0]!.fingerprint)
      const worktreePrepare = path.join(repo.stateDir("tamper"), "worktree/research/prepare.py")
      expect(fs.readFileSync(worktreePrepare, "utf8")).not.toContain("tampered")
      expect(worktreeStatus(repo, "tamper")).toBe("")
    }))

  it.live.skipIf(!sandboxWorks)("in the sandbox, a candidate cannot tamper at all: its writes fail and it crashes", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeTamperers(repo)
      yield* runLoop(repo, "sandboxed", {}, undefined, LocalRunner.layer({ sandbox: "required" }))
      const journal = readJournal(repo, "sandboxed")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "crash", "crash"])
      for (const entry of journal.slice(1)) expect(entry.reason).toContain("Read-only file system")
      expect(journal[2]!.fingerprint).toBe(journal[0]!.fingerprint)
    }))

  it.live("stops at max experiments and resumes to the next experiment without repeating one", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      for (const degree of [4, 5, 6]) {
        writeCandidate(repo, `d${degree}`, `degree ${degree}`, { "train.py": toyTrain({ DEGREE: String(degree), STEPS: "600" }) })
      }
      const first = yield* runLoop(repo, "resume", { maxExperiments: 2 })
      expect(first.summary.reason).toContain("max experiments (2)")
      expect(readJournal(repo, "resume").map((entry) => entry.id)).toEqual([0, 1])
      const second = yield* runLoop(repo, "resume", { maxExperiments: 4 })
      expect(second.summary.ran).toBe(2)
      const journal = readJournal(repo, "resume")
      expect(journal.map((entry) => entry.id)).toEqual([0, 1, 2, 3])
      expect(journal.map((entry) => entry.source)).toEqual([undefined, "replay:d4", "replay:d5", "replay:d6"])
      const kept = journal.filter((entry) => entry.status === "keep").at(-1)!
      expect(branchHead(repo, "resume")).toBe(kept.commit)
    }))

  it.live("times out a candidate that overruns its budget", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "slow", "sleeps past the budget", { "train.py": toyTrain({}, "\nimport time\ntime.sleep(60)\n") })
      const started = Date.now()
      yield* runLoop(repo, "slow", { experimentSeconds: 1, graceSeconds: 1 })
      const journal = readJournal(repo, "slow")
      expect(journal[1]!.status).toBe("timeout")
      expect(journal[1]!.reason).toContain("exceeded its 2 s limit")
      expect(journal[1]!.seconds.train).toBeLessThan(2 + 2.5)
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(discardedRef(repo, "slow", 1)).toBe(journal[1]!.commit)
    }))

  it.live("voids a candidate that trains past its budget and start-up allowance (budget-exceeded)", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "a-overrun", "trains 3 s on a 1 s budget", {
        "train.py": toyTrain({ DEGREE: "5", LEARNING_RATE: "0.1", STEPS: "1500" }, "\nimport time\ntime.sleep(3)\n")
      })
      yield* runLoop(repo, "overrun", { experimentSeconds: 1, startupSeconds: 1, graceSeconds: 20 })
      const journal = readJournal(repo, "overrun")
      expect(journal[1]!.status).toBe("discard")
      expect(journal[1]!.flags).toContain("budget-exceeded")
      expect(journal[1]!.reason).toContain("integrity: budget-exceeded")
      // better than the baseline, so only the overrun stopped it
      expect(journal[1]!.metrics.val_mse).toBeLessThan(journal[0]!.metrics.val_mse)
      expect(branchHead(repo, "overrun")).toBe(journal[0]!.commit)
    }))

  it.live("stops cleanly when the proposer's spending reaches maxCostUsd, with the cost in the journal", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const { summary } = yield* runLoop(repo, "cost", { maxCostUsd: 1 }, degreeProposer(0.4))
      expect(summary.reason).toContain("max cost ($1)")
      const journal = readJournal(repo, "cost")
      // 0.4 + 0.4 + 0.4 = 1.2 >= 1 after three proposals
      expect(journal.map((entry) => entry.cost.usd)).toEqual([0, 0.4, 0.4, 0.4])
      expect(journal[1]!.cost.inputTokens).toBe(1000)
    }))

  it.live("stops at max wall-clock seconds", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const { summary } = yield* runLoop(repo, "wall", { maxWallSeconds: 1.5 }, degreeProposer(0))
      expect(summary.reason).toContain("max wall-clock")
      expect(readJournal(repo, "wall").length).toBeLessThan(6)
    }))

  it.live("confirms a keep with another seed before it counts", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "a-better", "degree 5", { "train.py": toyTrain({ DEGREE: "5", LEARNING_RATE: "0.1", STEPS: "800" }) })
      // Better under seed 0 only: under any other seed it predicts garbage.
      writeCandidate(repo, "b-lucky", "lucky under seed 0", {
        "train.py": toyTrain({ DEGREE: "6", LEARNING_RATE: "0.1", STEPS: "1200" }) +
          "\nif os.environ['AUTORESEARCH_SEED'] != '0':\n    json.dump({'weights': [100.0], 'scale': SCALE}, open(os.path.join(RUN_DIR, 'model.json'), 'w'))\n"
      })
      yield* runLoop(repo, "confirm", { confirmRuns: 1 })
      const journal = readJournal(repo, "confirm")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard"])
      expect(journal[1]!.confirmations).toHaveLength(1)
      expect(journal[2]!.reason).toContain("not confirmed over 2 seeds")
      expect(discardedRef(repo, "confirm", 2)).toBe(journal[2]!.commit)
      expect(branchHead(repo, "confirm")).toBe(journal[1]!.commit)
      expect(fs.existsSync(path.join(repo.stateDir("confirm"), "runs", "1-seed1001", "train.log"))).toBe(true)
    }))
})

describe("the loop when the scorer fails", () => {
  /** Rewrites model.json after training: `weights` as given. */
  const model = (weights: string) =>
    `\nwith open(os.path.join(RUN_DIR, "model.json"), "w") as f:\n    json.dump({"weights": ${weights}, "scale": SCALE}, f)\n`

  it.live("on the experiment's artifacts, voids that experiment with the reason and goes on; links out of the run directory are never read", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "a-dev-null", "predictions to /dev/null", {
        "train.py": toyTrain({}, `\nos.symlink("/dev/null", os.path.join(RUN_DIR, "predictions.json"))\n`)
      })
      // Finite predictions of 1e200: the score's (p - t) ** 2 overflows, and prepare.py score exits with a traceback.
      writeCandidate(repo, "b-overflow", "predictions the scorer cannot square", { "train.py": toyTrain({}, model("[1e200]")) })
      const { summary } = yield* runLoop(repo, "scorer")
      expect(summary.reason).toContain("nothing more to propose")
      const journal = readJournal(repo, "scorer")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "invalid", "invalid"])
      expect(journal[1]!.reason).toBe(
        "the run directory holds what trusted code must not read: predictions.json is a symbolic link to /dev/null, outside the run directory"
      )
      // The trusted predict never ran over the link.
      expect(journal[1]!.seconds.predict).toBeUndefined()
      expect(journal[2]!.reason).toMatch(/^the scorer failed on this experiment's artifacts: python3 prepare.py score failed: OverflowError/)
      expect(discardedRef(repo, "scorer", 2)).toBe(journal[2]!.commit)
      expect(branchHead(repo, "scorer")).toBe(journal[0]!.commit)
    }))

  it.live("stops the run only when the scorer fails on good input too (the incumbent's artifacts)", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      writeCandidate(repo, "a-better", "degree 5", { "train.py": toyTrain(better) })
      const command = CommandScorer.make({ command: ["python3", "prepare.py", "score"], metric: "val_mse" })
      let calls = 0
      // Scores the baseline, then breaks, whatever it is given.
      const breaking = Layer.succeed(Scorer, Scorer.of({
        name: "breaking",
        score: (input) => calls++ === 0 ? command.score(input) : Effect.fail(new ScorerError({ scorer: "breaking", reason: "numpy is gone" }))
      }))
      const error = yield* Effect.flip(runLoop(repo, "broken", {}, undefined, undefined, breaking))
      expect(error.message).toBe("breaking: numpy is gone")
      expect(calls).toBe(3)
      // Nothing recorded for #1: a resume runs it again once the scorer is mended.
      expect(readJournal(repo, "broken").map((entry) => entry.status)).toEqual(["keep"])
    }))
})
