/**
 * Benchmark: the harness's own time per experiment, i.e. everything except the
 * experiment's subprocesses (propose, apply and syntax-check edits, git commit, seals,
 * scoring, journal), on a trivial research directory, as milliseconds and as a fraction
 * of a 600 s budget. Run: `npm run bench` (after `./dev setup`).
 */
import {
  Loop,
  ReplayProposer,
  Research,
  resolveConfig,
  defineResearch,
  Scorer,
  type ResolvedConfig
} from "@autoresearch/core"
import { LocalRunner } from "@autoresearch/runners"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const experiments = Number(process.argv[2] ?? 20)
const base = fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-bench-"))
const repo = path.join(base, "repo")
const research = path.join(repo, "research")
const candidates = path.join(base, "candidates")
fs.mkdirSync(research, { recursive: true })

const train = (value: number) =>
  `import os\nVALUE = ${value}\nopen(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "value.txt"), "w").write(str(VALUE))\n`
fs.writeFileSync(path.join(research, "train.py"), train(0))
fs.writeFileSync(path.join(research, "prepare.py"), "# trivial task: nothing to prepare\n")
fs.writeFileSync(path.join(research, "program.md"), "Maximise VALUE.\n")
const gitIn = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, stdio: "pipe" })
gitIn(repo, "init", "-q", "-b", "main")
gitIn(repo, "add", "-A")
gitIn(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "trivial research directory")
for (let i = 1; i < experiments; i++) {
  const dir = path.join(candidates, String(i).padStart(4, "0"))
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "train.py"), train(i % 2 === 0 ? i : -i))
}

const config: ResolvedConfig = resolveConfig(defineResearch({
  mutable: ["train.py"],
  immutable: ["prepare.py"],
  program: "program.md",
  phases: { train: ["train.py"] },
  metric: { name: "value", direction: "max" },
  budget: { experimentSeconds: 600, maxExperiments: experiments }
}))

/** An in-process scorer, so the only subprocess left is the experiment's own. */
const ValueScorer = Layer.succeed(Scorer, Scorer.of({
  name: "value",
  score: (input) =>
    Effect.sync(() => ({
      status: "ok" as const,
      metrics: { value: Number(fs.readFileSync(path.join(input.run.runDir, "value.txt"), "utf8")) },
      reported: {},
      flags: []
    }))
}))

const program = Effect.gen(function*() {
  const where = yield* Research.paths(research, "bench")
  const layer = Layer.mergeAll(Research.layer(where, config), ReplayProposer.layer(candidates), ValueScorer, LocalRunner.layer())
  return yield* Loop.run(config, where).pipe(Effect.scoped, Effect.provide(layer))
})

const started = performance.now()
const summary = await Effect.runPromise(program)
const wallMs = performance.now() - started
const overheads = summary.entries.slice(1).map((entry) => {
  const subprocess = (entry.seconds.train ?? 0) + (entry.seconds.predict ?? 0)
  return (entry.seconds.total! - subprocess) * 1000
}).sort((a, b) => a - b)
const mean = overheads.reduce((a, b) => a + b, 0) / overheads.length
const median = overheads[Math.floor(overheads.length / 2)]!
const subprocessMs = summary.entries.slice(1).reduce((sum, entry) => sum + (entry.seconds.train ?? 0), 0) * 1000 / overheads.length
console.log(`harness overhead per experiment (${overheads.length} trivial experiments, excluding the experiment's subprocess):`)
console.log(`  mean ${mean.toFixed(1)} ms, median ${median.toFixed(1)} ms, max ${overheads.at(-1)!.toFixed(1)} ms`)
console.log(`  = ${(mean / 600_000 * 100).toFixed(4)} % of a 600 s budget`)
console.log(`  (the trivial train subprocess itself: ${subprocessMs.toFixed(1)} ms; whole run ${(wallMs / 1000).toFixed(1)} s)`)
fs.rmSync(base, { recursive: true, force: true })
