/**
 * The loop's GPU duty cycle, measured: the share of wall time an experiment spends in its
 * `train` phase, and the gaps between trainings itemised by phase. No GPU is needed: the
 * research directory's `train.py` sleeps the whole budget, standing in for GPU training
 * that fills it. Three runs, each in a throwaway git repository under the system's temp
 * folder, through the SDK entry point (`Autoresearch.runPromise`):
 *
 *   knob                          the offline knob search (`--proposer knob`)
 *   claude, no prefetch           the Claude proposer through the real @anthropic-ai/sdk,
 *   claude, prefetch              against a local Messages API server that takes
 *                                 `delay` seconds to answer each call with a valid proposal
 *
 * From each run's journal: the wall time from the first experiment's start to the last
 * one's finish (the journal's span, not the run's own wall time, which adds the checks, the
 * one-off prepare and the set-up; that is printed beside it), the share of it in `train`,
 * and per proposed experiment (#1 on; the baseline #0 has no proposal) the mean seconds of
 * each phase outside training, "other" (the experiment's total less its named phases:
 * applying the edits, deciding, sealing, the journal, git) and "between" (from one
 * experiment's finish to the next one's start). The gaps do not grow with the training
 * time, so the duty at 600 s experiments is 600 / (600 + mean gap), against the 95 % the
 * method promises.
 *
 *   node packages/cli/bench/duty-cycle.ts [train seconds, default 20] [experiments, default 5] [model delay seconds, default 20]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { runPromise } from "../src/Autoresearch.ts"

const trainSeconds = Number(process.argv[2] ?? 20)
const experiments = Number(process.argv[3] ?? 5)
const delaySeconds = Number(process.argv[4] ?? 20)
const target = 600
const promised = 0.95
if (!(trainSeconds > 0) || !Number.isInteger(experiments) || experiments < 2 || !(delaySeconds >= 0)) {
  console.error("usage: node packages/cli/bench/duty-cycle.ts [train seconds > 0] [experiments >= 2] [model delay seconds >= 0]")
  process.exit(2)
}

// ---------------------------------------------------------------------------
// The research directory: training sleeps the budget; the metric follows two knobs.

const trainPy = `"""
Duty-cycle bench: "training" sleeps the whole budget, as GPU training that fills it would,
then saves the two knobs as the model.
"""
import json
import os
import time

WIDTH = 4  # @knob int 1..16
DEPTH = 2  # @knob int 1..8

RUN_DIR = os.environ["AUTORESEARCH_RUN_DIR"]
BUDGET = float(os.environ.get("AUTORESEARCH_BUDGET_SECONDS", "20"))

start = time.time()
time.sleep(BUDGET)
with open(os.path.join(RUN_DIR, "model.json"), "w") as f:
    json.dump({"width": WIDTH, "depth": DEPTH}, f)
print(f"training_seconds: {time.time() - start:.2f}")
`

const preparePy = `"""
Duty-cycle bench task (immutable): a tiny cache, and a metric that is the squared distance
of the two knobs from a hidden optimum, so that moves towards it are kept.

    python3 prepare.py            write the cache in $AUTORESEARCH_CACHE_DIR
    python3 prepare.py predict    write predictions for the validation inputs
    python3 prepare.py score      score them against the hidden optimum
"""
import json
import os
import sys


def write(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f)


def read(path):
    with open(path) as f:
        return json.load(f)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "prepare"
    if command == "prepare":
        cache = os.environ["AUTORESEARCH_CACHE_DIR"]
        write(os.path.join(cache, "train", "data.json"), {"note": "nothing to learn"})
        write(os.path.join(cache, "inputs", "x.json"), ["width", "depth"])
        write(os.path.join(cache, "hidden", "y.json"), {"width": 2, "depth": 1})
    elif command == "predict":
        model = read(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "model.json"))
        names = read(os.path.join(os.environ["AUTORESEARCH_INPUTS_DIR"], "x.json"))
        write(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "predictions.json"), [model[name] for name in names])
    elif command == "score":
        width, depth = read(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "predictions.json"))
        best = read(os.path.join(os.environ["AUTORESEARCH_CACHE_DIR"], "hidden", "y.json"))
        loss = ((width - best["width"]) ** 2 + (depth - best["depth"]) ** 2) / 100.0
        print(json.dumps({"metrics": {"loss": loss}}))
    else:
        sys.exit(f"unknown command {command!r}")
`

const programMd = `# Duty-cycle bench

Goal: the lowest \`loss\`. Edit \`train.py\` only: change \`WIDTH\` or \`DEPTH\`.
Do not edit \`prepare.py\` or this file.
`

const configTs = `import { defineResearch } from "@autoresearch/core"

export default defineResearch({
  name: "duty-cycle",
  mutable: ["train.py"],
  immutable: ["prepare.py"],
  program: "program.md",
  phases: {
    prepare: ["prepare.py"],
    train: ["train.py"],
    predict: ["prepare.py", "predict"],
    score: ["prepare.py", "score"]
  },
  metric: { name: "loss", direction: "min", minDelta: 0.0001 },
  budget: { experimentSeconds: ${trainSeconds}, maxExperiments: ${experiments}, verifySeeds: 0, noiseRuns: 0 }
})
`

const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-duty-")))
const git = (cwd: string, ...args: Array<string>) =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim()

/** A new git repository with the research directory committed under `research/`. */
const makeRepo = (name: string) => {
  const root = path.join(base, name)
  const research = path.join(root, "research")
  fs.mkdirSync(research, { recursive: true })
  const files = { "train.py": trainPy, "prepare.py": preparePy, "program.md": programMd, "autoresearch.config.ts": configTs }
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(research, file), text)
  git(root, "init", "-q", "-b", "main")
  git(root, "add", "-A")
  git(root, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "research directory")
  return { root, research }
}

// ---------------------------------------------------------------------------
// A local Anthropic Messages API: each call is answered after `delaySeconds` with a
// propose_experiment call that moves one knob a step towards the optimum (a step away once
// there, which is discarded), WIDTH and DEPTH in turn, read from the files at the current
// best commit in the request.

interface MockModel {
  readonly url: string
  readonly calls: Array<{ readonly at: number; readonly answeredAt?: number; readonly edit: string }>
  readonly close: () => Promise<void>
}

const startModel = (): Promise<MockModel> =>
  new Promise((resolve) => {
    const calls: Array<{ at: number; answeredAt?: number; edit: string }> = []
    const server = http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}")
        const text = JSON.stringify(body)
        const heading = text.indexOf("The mutable files at the current best commit")
        const files = heading < 0 ? text : text.slice(heading)
        const knob = calls.length % 2 === 0 ? "WIDTH" : "DEPTH"
        const [top, best] = knob === "WIDTH" ? [16, 2] : [8, 1]
        const current = Number(new RegExp(`${knob} = (\\d+)`).exec(files)?.[1] ?? NaN)
        const next = current < best ? current + 1 : current > best ? current - 1 : current < top ? current + 1 : current - 1
        const edit = `${knob} = ${current} -> ${next}`
        const call: { at: number; answeredAt?: number; edit: string } = { at: Date.now(), edit }
        calls.push(call)
        setTimeout(() => {
          call.answeredAt = Date.now()
          const input = {
            description: `${knob.toLowerCase()} ${current} to ${next}`,
            hypothesis: `the loss falls as ${knob} approaches its optimum`,
            edits: [{ path: "train.py", search: `${knob} = ${current}  #`, replace: `${knob} = ${next}  #` }]
          }
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({
            id: `msg_bench_${calls.length}`,
            type: "message",
            role: "assistant",
            model: body.model ?? "claude-bench",
            content: [{ type: "tool_use", id: `toolu_${calls.length}`, name: "propose_experiment", input }],
            stop_reason: "tool_use",
            stop_sequence: null,
            usage: { input_tokens: 2000, output_tokens: 100, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
          }))
        }, delaySeconds * 1000)
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        calls,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

// ---------------------------------------------------------------------------
// One run, and what its journal says.

interface Entry {
  readonly id: number
  readonly status: string
  readonly seconds: Record<string, number>
  readonly startedAt: string
  readonly finishedAt: string
}

interface Measured {
  readonly label: string
  readonly entries: ReadonlyArray<Entry>
  readonly runWallSeconds: number
  readonly calls?: MockModel["calls"]
}

const runOne = async (
  label: string,
  tag: string,
  proposer: "knob" | "claude",
  prefetch: boolean | undefined
): Promise<Measured> => {
  const { root, research } = makeRepo(tag)
  const model = proposer === "claude" ? await startModel() : undefined
  if (model !== undefined) {
    // What `--proposer claude` reads: the SDK sends the key as a header and talks to the base URL.
    process.env.ANTHROPIC_API_KEY = "bench-key"
    process.env.ANTHROPIC_BASE_URL = model.url
  }
  process.stderr.write(`${label}: ${experiments} experiments of ${trainSeconds} s in ${root}\n`)
  const t0 = Date.now()
  try {
    await runPromise({
      dir: research,
      tag,
      proposer,
      ...(prefetch === undefined ? {} : { prefetch }),
      onEvent: (event) => {
        if (event._tag === "Decided") {
          const seconds = event.entry.seconds
          process.stderr.write(
            `  #${event.id} ${event.entry.status} ${event.entry.description}: propose ${(seconds.propose ?? 0).toFixed(1)} s, ` +
              `train ${(seconds.train ?? 0).toFixed(1)} s, total ${(seconds.total ?? 0).toFixed(1)} s\n`
          )
        }
      }
    })
  } finally {
    await model?.close()
    delete process.env.ANTHROPIC_API_KEY
    delete process.env.ANTHROPIC_BASE_URL
  }
  const runWallSeconds = (Date.now() - t0) / 1000
  const journal = path.join(root, ".autoresearch", tag, "journal.jsonl")
  const entries = fs.readFileSync(journal, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as Entry)
  return { label, entries, runWallSeconds, ...(model === undefined ? {} : { calls: model.calls }) }
}

const named = ["propose", "apply", "commit", "prepare", "predict", "seal", "score", "keep", "discard"] as const
const mean = (values: ReadonlyArray<number>) => values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length
const ms = (iso: string) => Date.parse(iso)

interface Row {
  readonly label: string
  readonly phases: Record<(typeof named)[number] | "other" | "between" | "train", number>
  /** Other phases the journal timed, by name, when there are any beyond the named ones. */
  readonly extra: Record<string, number>
  /** The columns the journal has: a phase it never timed shows as "-" (its time is in "other"). */
  readonly timed: ReadonlySet<string>
  readonly gap: number
  readonly steadyGap: number
  readonly measuredDuty: number
  readonly spanSeconds: number
  readonly runWallSeconds: number
  readonly statuses: string
}

/**
 * The gaps per proposed experiment (#1 on), where `from` picks which: the mean of each
 * phase, "other" (total less every timed phase) and "between" (previous finish to this start).
 */
const gapsOf = (entries: ReadonlyArray<Entry>, from: number) => {
  const proposed = entries.filter((entry) => entry.id >= from)
  const phaseMean = (name: string) => mean(proposed.map((entry) => entry.seconds[name] ?? 0))
  const extraNames = [...new Set(proposed.flatMap((entry) => Object.keys(entry.seconds)))]
    .filter((name) => name !== "total" && name !== "train" && !(named as ReadonlyArray<string>).includes(name))
  const other = mean(proposed.map((entry) =>
    entry.seconds.total! - Object.entries(entry.seconds).filter(([name]) => name !== "total").reduce((sum, [, value]) => sum + value, 0)
  ))
  const between = mean(proposed.map((entry) => {
    const previous = entries.find((candidate) => candidate.id === entry.id - 1)
    return previous === undefined ? 0 : (ms(entry.startedAt) - ms(previous.finishedAt)) / 1000
  }))
  const phases = {
    ...Object.fromEntries(named.map((name) => [name, phaseMean(name)])),
    other,
    between,
    train: phaseMean("train")
  } as Row["phases"]
  const extra = Object.fromEntries(extraNames.map((name) => [name, phaseMean(name)]))
  const gap = mean(proposed.map((entry) => entry.seconds.total! - (entry.seconds.train ?? 0))) + between
  return { phases, extra, gap }
}

const rowOf = (run: Measured): Row => {
  const { entries } = run
  const all = gapsOf(entries, 1)
  const steady = gapsOf(entries, 2)
  const spanSeconds = (ms(entries.at(-1)!.finishedAt) - ms(entries[0]!.startedAt)) / 1000
  const trained = entries.reduce((sum, entry) => sum + (entry.seconds.train ?? 0), 0)
  const counts = new Map<string, number>()
  for (const entry of entries) counts.set(entry.status, (counts.get(entry.status) ?? 0) + 1)
  return {
    label: run.label,
    phases: all.phases,
    extra: all.extra,
    timed: new Set([...entries.filter((entry) => entry.id >= 1).flatMap((entry) => Object.keys(entry.seconds)), "other", "between"]),
    gap: all.gap,
    steadyGap: entries.length > 2 ? steady.gap : all.gap,
    measuredDuty: trained / spanSeconds,
    spanSeconds,
    runWallSeconds: run.runWallSeconds,
    statuses: [...counts].map(([status, count]) => `${count} ${status}`).join(", ")
  }
}

// ---------------------------------------------------------------------------

const runs: Array<Measured> = []
try {
  runs.push(await runOne("knob", "knob", "knob", undefined))
  runs.push(await runOne(`claude (${delaySeconds} s), no prefetch`, "claude", "claude", false))
  runs.push(await runOne(`claude (${delaySeconds} s), prefetch`, "claude-prefetch", "claude", true))
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}

const rows = runs.map(rowOf)
const pct = (x: number) => `${(100 * x).toFixed(1)} %`
const duty = (train: number, gap: number) => train / (train + gap)
const columns = ["propose", "apply", "commit", "prepare", "predict", "seal", "score", "keep", "discard", "other", "between", "train"] as const
const width = Math.max(26, ...rows.map((row) => row.label.length))
const header = [
  "proposer".padEnd(width),
  ...columns.map((name) => name.padStart(8)),
  `duty@${trainSeconds}s`.padStart(10),
  `duty@${target}s`.padStart(10),
  "steady@600s".padStart(12)
].join("")
console.log(
  `\nduty cycle, ${experiments} experiments (baseline + ${experiments - 1} proposed) of ${trainSeconds} s training (sleep-bound), ` +
    `per proposed experiment mean seconds:`
)
console.log(header)
for (const row of rows) {
  console.log([
    row.label.padEnd(width),
    ...columns.map((name) => (row.timed.has(name) ? row.phases[name].toFixed(1) : "-").padStart(8)),
    pct(row.measuredDuty).padStart(10),
    pct(duty(target, row.gap)).padStart(10),
    pct(duty(target, row.steadyGap)).padStart(12)
  ].join(""))
}
console.log(
  `\nduty@${trainSeconds}s: train seconds over the journal's span (first experiment's start to the last one's finish), baseline included.\n` +
    `duty@${target}s: ${target} / (${target} + gap), gap = mean per proposed experiment of (total - train) + between; ` +
    `steady@600s: the same from #2 on (the first proposal cannot be prefetched: nothing trains before it but the baseline).\n` +
    `"-": a phase the journal does not time (its time, if any, is in "other"). target: >= ${pct(promised)} at ${target} s experiments.`
)
for (const row of rows) {
  const extra = Object.entries(row.extra).map(([name, value]) => `${name} ${value.toFixed(2)} s`).join(", ")
  const met = duty(target, row.gap) >= promised
  console.log(
    `  ${row.label}: gap ${row.gap.toFixed(1)} s per experiment, ${met ? "met" : "NOT met"} (${pct(duty(target, row.gap))}); ` +
      `steady ${row.steadyGap.toFixed(1)} s; journal span ${row.spanSeconds.toFixed(1)} s, run's own wall time ${row.runWallSeconds.toFixed(1)} s; ` +
      `${row.statuses}${extra === "" ? "" : `; other timed phases: ${extra}`}`
  )
}
if (delaySeconds > trainSeconds) {
  console.log(
    `  note: the model's ${delaySeconds} s exceed the ${trainSeconds} s of training, so prefetch cannot hide all of it here; ` +
      `at ${target} s experiments it would, and the prefetch run's duty@${target}s above is an underestimate.`
  )
}
for (const run of runs) {
  if (run.calls === undefined) continue
  const first = ms(run.entries[0]!.startedAt)
  const calls = run.calls.map((call) =>
    `${((call.at - first) / 1000).toFixed(1)}-${call.answeredAt === undefined ? "?" : ((call.answeredAt - first) / 1000).toFixed(1)} s (${call.edit})`
  )
  const trains = run.entries.filter((entry) => entry.id > 0).map((entry) =>
    `#${entry.id} propose ${(entry.seconds.propose ?? 0).toFixed(1)} s, finished ${((ms(entry.finishedAt) - first) / 1000).toFixed(1)} s`
  )
  console.log(`  ${run.label}: ${run.calls.length} model calls at ${calls.join("; ")}\n    ${trains.join("; ")}`)
}
