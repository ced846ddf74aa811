/**
 * Benchmark: what the local runner adds to a no-op phase (`python3 noop.py`), in
 * milliseconds, unsandboxed and in the bubblewrap sandbox, against the same script
 * spawned bare with a small environment: one run, the three interleaved, the median of
 * --runs after two warm-ups. The sandboxed line is skipped, saying so, where bubblewrap
 * does not work.
 *
 *     node packages/runners/bench/runner-bench.ts [--runs 30]
 */
import { type PhaseRun, Runner } from "@autoresearch/core"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as LocalRunner from "../src/LocalRunner.ts"
import * as Sandbox from "../src/Sandbox.ts"

const at = process.argv.indexOf("--runs")
const runs = at > 0 ? Number(process.argv[at + 1]) : 30
const warmups = 2

const base = fs.realpathSync(fs.mkdtempSync(path.join(fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir(), "runner-bench-")))
const workdir = path.join(base, "research")
fs.mkdirSync(workdir, { recursive: true })
fs.writeFileSync(path.join(workdir, "noop.py"), "pass\n")

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const experiment = (id: string): PhaseRun => ({
  id,
  workdir,
  runDir: path.join(base, "runs", id),
  seed: 0,
  hidden: [],
  phase: { name: "train", command: ["python3", "noop.py"], timeoutSeconds: 60, env: {}, readable: [], writable: [] }
})

const runnerFor = (options: LocalRunner.LocalRunnerOptions) =>
  Effect.runPromise(Effect.provide(Runner.useSync((runner) => runner), LocalRunner.layer({ gpus: "none", ...options })))

let id = 0
const runOnce = (runner: Runner["Service"]) =>
  Effect.runPromise(runner.run(experiment(String(id++)))).then((result) => {
    if (result.status !== "ok") throw new Error(`no-op phase failed: ${result.reason}\n${result.logTail}`)
  })

try {
  // The baseline gets an environment as small as the runner's, which python starts measurably faster with.
  const env = { PATH: process.env.PATH ?? "", HOME: base, PYTHONUNBUFFERED: "1", PYTHONDONTWRITEBYTECODE: "1" }
  const probe = await Effect.runPromise(Sandbox.probe())
  const variants: Array<{ readonly label: string; readonly once: () => unknown; readonly samples: Array<number> }> = [
    { label: "bare spawn", once: () => execFileSync("python3", ["noop.py"], { cwd: workdir, stdio: "ignore", env }), samples: [] }
  ]
  const unsandboxed = await runnerFor({ sandbox: "off" })
  variants.push({ label: "runner, unsandboxed", once: () => runOnce(unsandboxed), samples: [] })
  if (probe.available) {
    const runner = await runnerFor({ sandbox: "required" })
    variants.push({ label: `runner, sandboxed (${probe.version})`, once: () => runOnce(runner), samples: [] })
  }
  // Interleaved, so that whatever else the machine does weighs on each variant alike.
  for (let i = 0; i < warmups + runs; i++) {
    for (const variant of variants) {
      const started = performance.now()
      await variant.once()
      if (i >= warmups) variant.samples.push(performance.now() - started)
    }
  }
  const bare = median(variants[0]!.samples)
  console.log(`no-op phase (python3 noop.py), median of ${runs} interleaved runs, node ${process.versions.node}, ${os.cpus().length} cpus`)
  for (const variant of variants) {
    const ms = median(variant.samples)
    const overhead = variant === variants[0] ? "" : `   overhead ${(ms - bare).toFixed(1).padStart(6)} ms`
    console.log(`${variant.label.padEnd(38)} ${ms.toFixed(1).padStart(7)} ms${overhead}`)
  }
  if (!probe.available) console.log(`runner, sandboxed: skipped — ${probe.reason}`)
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
