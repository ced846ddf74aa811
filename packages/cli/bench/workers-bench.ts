/**
 * Parallel workers, measured: the same research run with K = 1, 2 and 4 experiments in
 * flight (`budget.workers`), each in a throwaway git repository, through the SDK entry
 * point with the offline knob search. Training sleeps a fixed time (10 s by default), as
 * GPU training that fills its budget does, so the machine's cores are not what limits K.
 *
 * For each K, from the journal: throughput (proposed experiments per minute, from the first
 * one's start to the last one's finish; the baseline and the one-off set-up are outside
 * it), its ratio to K times the single worker's (the aim: 0.95 or more), the keep rate,
 * and the share of experiments spent on stale parents (a winner measured on a head that
 * moved while it ran, which is then measured again: see Settle.ts).
 *
 *   node packages/cli/bench/workers-bench.ts [train seconds, default 10] [proposed experiments per run, default 12] [K list, default 1,2,4]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runPromise } from "../src/Autoresearch.ts"

const trainSeconds = Number(process.argv[2] ?? 10)
const proposed = Number(process.argv[3] ?? 12)
const ks = (process.argv[4] ?? "1,2,4").split(",").map(Number)
if (!(trainSeconds > 0) || !Number.isInteger(proposed) || proposed < 2 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
  console.error("usage: node packages/cli/bench/workers-bench.ts [train seconds > 0] [experiments >= 2] [K list, e.g. 1,2,4]")
  process.exit(2)
}

// A research directory whose loss is a bowl over three knobs: the knob search keeps some
// moves and discards others, as a real search does.
const files: Record<string, string> = {
  "train.py": `import json, os, time
ALPHA = 3  # @knob int 0..12
BETA = 9   # @knob int 0..12
GAMMA = 1  # @knob int 0..12
time.sleep(float(os.environ["AUTORESEARCH_BUDGET_SECONDS"]))
json.dump([ALPHA, BETA, GAMMA], open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "model.json"), "w"))
`,
  "prepare.py": `import json, os, sys
command = sys.argv[1] if len(sys.argv) > 1 else "prepare"
if command == "prepare":
    for part, value in [("train", {}), ("inputs", {}), ("hidden", [6, 4, 8])]:
        os.makedirs(os.path.join(os.environ["AUTORESEARCH_CACHE_DIR"], part), exist_ok=True)
        json.dump(value, open(os.path.join(os.environ["AUTORESEARCH_CACHE_DIR"], part, "v.json"), "w"))
elif command == "predict":
    run = os.environ["AUTORESEARCH_RUN_DIR"]
    json.dump(json.load(open(os.path.join(run, "model.json"))), open(os.path.join(run, "predictions.json"), "w"))
elif command == "score":
    guess = json.load(open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "predictions.json")))
    best = json.load(open(os.path.join(os.environ["AUTORESEARCH_CACHE_DIR"], "hidden", "v.json")))
    print(json.dumps({"metrics": {"loss": sum((g - b) ** 2 for g, b in zip(guess, best)) / 100.0}}))
`,
  "program.md": "# Workers bench\n\nLowest `loss`: change ALPHA, BETA or GAMMA in train.py.\n",
  "autoresearch.config.ts": `import { defineResearch } from "@autoresearch/core"
export default defineResearch({
  name: "workers-bench",
  mutable: ["train.py"],
  immutable: ["prepare.py"],
  program: "program.md",
  phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["prepare.py", "predict"], score: ["prepare.py", "score"] },
  metric: { name: "loss", direction: "min", minDelta: 0.0001 },
  budget: { experimentSeconds: ${trainSeconds}, maxExperiments: ${proposed + 1}, verifySeeds: 0, noiseRuns: 0 }
})
`
}

const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-workers-")))
const git = (cwd: string, ...args: Array<string>) => execFileSync("git", args, { cwd, stdio: ["ignore", "pipe", "pipe"] })

interface Entry {
  readonly id: number
  readonly status: string
  readonly reason?: string
  readonly seconds: Record<string, number>
  readonly startedAt: string
  readonly finishedAt: string
}

const mean = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)

const measure = async (k: number) => {
  const root = path.join(base, `k${k}`)
  const research = path.join(root, "research")
  fs.mkdirSync(research, { recursive: true })
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(research, file), text)
  git(root, "init", "-q", "-b", "main")
  git(root, "add", "-A")
  git(root, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "research")
  process.stderr.write(`K = ${k}: ${proposed} experiments of ${trainSeconds} s in ${root}\n`)
  await runPromise({
    dir: research,
    tag: "bench",
    proposer: "knob",
    budget: { workers: k },
    onEvent: (event) => {
      if (event._tag === "Decided") process.stderr.write(`  #${event.id} ${event.entry.status} ${event.entry.description}\n`)
    }
  })
  const entries = fs.readFileSync(path.join(root, ".autoresearch", "bench", "journal.jsonl"), "utf8").split("\n").filter(Boolean)
    .map((line) => JSON.parse(line) as Entry).filter((entry) => entry.id > 0)
  const start = Math.min(...entries.map((entry) => Date.parse(entry.startedAt)))
  const end = Math.max(...entries.map((entry) => Date.parse(entry.finishedAt)))
  const stale = entries.filter((entry) => /branch moved on/.test(entry.reason ?? "")).length
  return {
    k,
    n: entries.length,
    perMinute: entries.length / ((end - start) / 60_000),
    train: mean(entries.map((entry) => entry.seconds.train ?? 0)),
    total: mean(entries.map((entry) => entry.seconds.total ?? 0)),
    keeps: entries.filter((entry) => entry.status === "keep").length,
    stale
  }
}

const rows = []
for (const k of ks) rows.push(await measure(k))
const single = rows.find((row) => row.k === 1)
console.log(`\nworkers, ${trainSeconds} s of training per experiment, ${os.availableParallelism()} cores; proposed experiments (the baseline left out):`)
console.log("K  experiments  per minute  vs K x single  mean train / total s  keeps    stale (measured again)")
for (const row of rows) {
  const ratio = single === undefined ? "-" : (row.perMinute / (row.k * single.perMinute)).toFixed(3)
  console.log(
    `${String(row.k).padEnd(3)}${String(row.n).padEnd(13)}${row.perMinute.toFixed(2).padEnd(12)}${ratio.padEnd(15)}` +
      `${`${row.train.toFixed(1)} / ${row.total.toFixed(1)}`.padEnd(22)}${`${row.keeps} (${((100 * row.keeps) / row.n).toFixed(0)} %)`.padEnd(9)}` +
      `${row.stale} (${((100 * row.stale) / row.n).toFixed(0)} %)`
  )
}
if (process.env.BENCH_KEEP === undefined) fs.rmSync(base, { recursive: true, force: true })
else console.log(`kept ${base}`)
