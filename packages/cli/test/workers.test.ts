/**
 * Parallel workers (`budget.workers`) on the toy research directory, with real git, real
 * training and a scorer whose values the candidates set: each candidate sleeps as long
 * as it is told, so the order in which they finish is the test's, and writes the value
 * the scorer reads. Covered: two keeps finishing out of order (the later one re-applied
 * onto the moved head), a stale loser, a crash while another runs, and the branch staying
 * linear, every kept commit's parent the commit kept before it.
 */
import { it } from "@effect/vitest"
import { Loop, Proposer, ReplayProposer, Research, resolveConfig, type ResolvedConfig, Scorer } from "@autoresearch/core"
import { LocalRunner } from "@autoresearch/runners"
import { Effect, Layer } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import toyConfig from "../../../examples/toy/autoresearch.config.ts"
import { branchHead, cliBin, discardedRef, git, plain, readJournal, type ToyRepo, toyRepos, toyTrain, writeCandidate } from "./fixtures.ts"

const newRepo = toyRepos()

/** val_mse as the candidate wrote it in its run directory (`value.txt`); 1.0 for the baseline, which writes none. */
const setScorer = Layer.succeed(Scorer, Scorer.of({
  name: "set",
  score: (input) =>
    Effect.sync(() => {
      const file = path.join(input.run.runDir, "value.txt")
      const value = fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) : 1
      return { status: "ok" as const, metrics: { val_mse: value }, reported: {}, flags: [] }
    })
}))

/** A candidate that trains the toy, sleeps `seconds`, then writes the value the scorer will read (or crashes). */
const candidate = (
  repo: ToyRepo,
  name: string,
  options: { readonly seconds: number; readonly value?: number; readonly crash?: boolean; readonly constants?: Record<string, string> }
) =>
  writeCandidate(repo, name, name, {
    "train.py": toyTrain(options.constants ?? {}, [
      "",
      "import time",
      `time.sleep(${options.seconds})`,
      options.crash === true ? "raise RuntimeError('crashed on purpose')" : "",
      `open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'value.txt'), 'w').write('${options.value ?? 1}')`,
      ""
    ].join("\n"))
  })

const runWorkers = (repo: ToyRepo, tag: string, workers: number, proposer: Layer.Layer<Proposer> = ReplayProposer.layer(repo.candidates)) =>
  Effect.gen(function*() {
    const base = resolveConfig(toyConfig)
    const config: ResolvedConfig = { ...base, budget: { ...base.budget, maxExperiments: 20, noiseRuns: 0, workers } }
    const where = yield* Research.paths(repo.research, tag)
    const layer = Layer.mergeAll(Research.layer(where, config), proposer, setScorer, LocalRunner.layer())
    return yield* Loop.run(config, where).pipe(Effect.scoped, Effect.provide(layer))
  })

/** The kept commits, oldest first, each the parent of the next: the branch's first-parent history from the baseline. */
const keptChain = (repo: ToyRepo, tag: string, baseline: string) =>
  git(repo.root, "rev-list", "--first-parent", "--reverse", `${baseline}..refs/heads/autoresearch/${tag}`).split("\n").filter(Boolean)

describe("parallel workers", () => {
  it.live("two keeps finish out of order: the first advances the branch, the stale one is re-applied onto it and measured again", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      candidate(repo, "a-slow-better", { seconds: 8, value: 0.5 })
      candidate(repo, "b-fast-good", { seconds: 0, value: 0.6 })
      const summary = yield* runWorkers(repo, "order", 2)
      const journal = readJournal(repo, "order")
      // Finish order: the baseline, #2 (fast), #1 (slow, stale), #3 (#1's edits on the new head).
      expect(journal.map((entry) => [entry.id, entry.status])).toEqual([[0, "keep"], [2, "keep"], [1, "discard"], [3, "keep"]])
      const [baseline, fast, slow, again] = journal
      expect(fast!.parent).toBe(baseline!.commit)
      expect(slow!.parent).toBe(baseline!.commit)
      expect(slow!.reason).toMatch(/branch moved on .* measured again/)
      expect(discardedRef(repo, "order", 1)).toBe(slow!.commit)
      expect(again!.from).toBe(1)
      expect(again!.source).toBe(slow!.source)
      expect(again!.parent).toBe(fast!.commit)
      expect(again!.metrics.val_mse).toBe(0.5)
      // Linear, and every kept commit measured on its parent, the commit kept before it.
      expect(keptChain(repo, "order", baseline!.commit)).toEqual([fast!.commit, again!.commit])
      expect(git(repo.root, "rev-parse", `${again!.commit}^`)).toBe(fast!.commit)
      expect(branchHead(repo, "order")).toBe(again!.commit)
      // Each started once, under its id; the re-application's start says where it came from.
      const started = fs.readFileSync(path.join(repo.stateDir("order"), "started.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      expect(started.map((start) => start.id).sort()).toEqual([1, 2, 3])
      expect(started.find((start) => start.id === 3)).toMatchObject({ from: 1, reapplied: 1 })
      expect(summary.entries.map((entry) => entry.id)).toEqual([0, 2, 1, 3])
      // Two ran at once: the slow one started before the fast one finished.
      expect(Date.parse(slow!.startedAt)).toBeLessThan(Date.parse(fast!.finishedAt))
    }), 180_000)

  it.live("a stale loser is discarded as usual, a crash beside a running keep moves nothing, and the keep still advances", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      candidate(repo, "a-slow-better", { seconds: 8, value: 0.4 })
      candidate(repo, "b-fast-crash", { seconds: 0, crash: true })
      candidate(repo, "c-slow-worse", { seconds: 12, value: 1.5 })
      yield* runWorkers(repo, "mixed", 2)
      const journal = readJournal(repo, "mixed")
      const byId = new Map(journal.map((entry) => [entry.id, entry]))
      expect(journal.map((entry) => entry.id).sort()).toEqual([0, 1, 2, 3])
      expect(byId.get(2)!.status).toBe("crash")
      expect(byId.get(2)!.reason).toContain("crashed on purpose")
      // #1 was built on the baseline and the crash moved nothing: still its parent, so it is kept.
      expect(byId.get(1)!.status).toBe("keep")
      expect(byId.get(1)!.parent).toBe(byId.get(0)!.commit)
      // #3 started on the baseline too (beside #1), finished after #1 moved the branch, and lost: discarded, not re-applied.
      expect(byId.get(3)!.parent).toBe(byId.get(0)!.commit)
      expect(byId.get(3)!.status).toBe("discard")
      expect(byId.get(3)!.reason).not.toMatch(/measured again/)
      expect(journal.some((entry) => entry.from !== undefined)).toBe(false)
      expect(branchHead(repo, "mixed")).toBe(byId.get(1)!.commit)
      expect(keptChain(repo, "mixed", byId.get(0)!.commit)).toEqual([byId.get(1)!.commit])
    }), 180_000)

  it.live("a slow proposal holds up no other worker: an experiment ends and is recorded while the model answers", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      candidate(repo, "a-fast", { seconds: 0, value: 0.5 })
      candidate(repo, "b-after-a-slow-answer", { seconds: 0, value: 0.6 })
      const replay = ReplayProposer.make(repo.candidates)
      let calls = 0
      // The second proposal takes 12 s to come, as a model's answer can.
      const slowSecond = Layer.succeed(Proposer, Proposer.of({
        name: "slow-second",
        propose: (context) => Effect.suspend(() => (++calls === 2 ? Effect.andThen(Effect.sleep("12 seconds"), replay.propose(context)) : replay.propose(context)))
      }))
      yield* runWorkers(repo, "slow", 2, slowSecond)
      const byId = new Map(readJournal(repo, "slow").map((entry) => [entry.id, entry]))
      expect(byId.get(1)!.status).toBe("keep")
      // #1 was decided and recorded before #2's proposal came back; #2 was built on the head its proposal saw.
      expect(Date.parse(byId.get(1)!.finishedAt)).toBeLessThan(Date.parse(byId.get(2)!.startedAt))
      expect(byId.get(2)!.seconds.propose).toBeGreaterThanOrEqual(12)
      expect(byId.get(2)!.parent).toBe(byId.get(0)!.commit)
    }), 180_000)

  it.live("a run SIGKILLed with two experiments in flight resumes them under their ids: none lost, none run twice, the worktrees reset", () =>
    Effect.promise(async () => {
      const repo = newRepo()
      // Through the CLI the toy's own scorer measures them: a better fit, a worse one, and one like the baseline.
      candidate(repo, "a-slow-better", { seconds: 15, constants: { DEGREE: "5", LEARNING_RATE: "0.1", STEPS: "1500" } })
      candidate(repo, "b-slow-worse", { seconds: 15, constants: { DEGREE: "1" } })
      candidate(repo, "c-fast-same", { seconds: 0 })
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
      for (const name of ["FORCE_COLOR", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"]) delete env[name]
      const args = [cliBin, "run", "research", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "killed", "--workers", "2", "--verify-seeds", "0"]
      const first = spawn(process.execPath, args, { cwd: repo.root, env, stdio: "ignore" })
      const exited = new Promise((resolve) => first.on("exit", resolve))
      const runs = path.join(repo.stateDir("killed"), "runs")
      // Killed once both slow candidates train.
      for (let waited = 0; !["1", "2"].every((id) => fs.existsSync(path.join(runs, id, "train.log"))); waited += 200) {
        if (waited > 120_000) throw new Error("the two experiments never trained at once")
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
      first.kill("SIGKILL")
      await exited
      expect(readJournal(repo, "killed").map((entry) => entry.id)).toEqual([0])

      const resumed = plain(execFileSync(process.execPath, args, { cwd: repo.root, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 }))
      expect(resumed).toContain("finished")
      const journal = readJournal(repo, "killed")
      const ids = journal.map((entry) => entry.id)
      // None lost, none twice: every id given out is in the journal once; 1 and 2 ran again under their ids.
      expect([...ids].sort()).toEqual([0, 1, 2, 3])
      const started = fs.readFileSync(path.join(repo.stateDir("killed"), "started.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
      expect([...new Set(started.map((start) => start.id))].sort()).toEqual([1, 2, 3])
      const byId = new Map(journal.map((entry) => [entry.id, entry]))
      expect(byId.get(1)!.source).toBe("replay:a-slow-better")
      expect(byId.get(2)!.source).toBe("replay:b-slow-worse")
      expect(byId.get(3)!.source).toBe("replay:c-fast-same")
      expect(byId.get(1)!.status).toBe("keep")
      expect(byId.get(2)!.status).toBe("discard")
      // The branch: linear, each kept commit on the one kept before it.
      const kept = journal.filter((entry) => entry.status === "keep")
      for (const [k, entry] of kept.entries()) {
        if (k > 0) expect(git(repo.root, "rev-parse", `${entry.commit}^`)).toBe(kept[k - 1]!.commit)
      }
      expect(branchHead(repo, "killed")).toBe(kept.at(-1)!.commit)
      // The workers' worktrees were reset: clean, each on a commit of the run.
      for (const k of ["0", "1"]) {
        const dir = path.join(repo.stateDir("killed"), "workers", k)
        expect(git(dir, "status", "--porcelain"), k).toBe("")
        expect(journal.map((entry) => entry.commit)).toContain(git(dir, "rev-parse", "HEAD"))
      }
    }), 400_000)
})
