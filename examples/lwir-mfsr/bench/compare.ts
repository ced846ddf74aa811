/**
 * Phase 3 against what it must beat, side by side on the same validation bursts, in one run:
 *   - bicubic upscaling of the reference frame (the gate);
 *   - the classical multi-frame baseline (registered mean + bicubic, computed by prepare.py);
 *   - phase 1's single-frame model (examples/lwir-sr/train.py, unchanged) trained for the same
 *     time on the reference frames of the same training bursts, given only the reference frame;
 *   - this example's baseline (train.py, unchanged), trained through the real CLI.
 * On synthetic scenes, on bursts synthesised from ../shared/data/lwir-real/roadscene, and on
 * the real sequences in ../shared/data/lwir-bursts (no ground truth: no-reference measures
 * only). Every PSNR/SSIM comes from the same function (the scorer's metrics). Run from the
 * repository root after `./dev setup`:
 *
 *   node examples/lwir-mfsr/bench/compare.ts [training seconds, default 60] [--full] [--no-sequences] [--only=synthetic|roadscene] [--seed=N]
 *
 * --full uses the full task (bursts of 8, 5000 training bursts) instead of the CPU smoke size;
 * --no-sequences leaves out the real sequences (no ground truth, so no comparison with single-frame SR);
 * --seed=N runs everything with seed N instead of 0 (the synthesised data, and both trainings).
 */
import { Comparison } from "@autoresearch/metrics"
import { locatePython } from "@autoresearch/core"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../../..")
const shared = path.resolve(root, "../shared/data")
const args = process.argv.slice(2)
const full = args.includes("--full")
const seconds = args.find((arg) => /^\d+$/.test(arg)) ?? "60"
const seedArg = args.find((arg) => arg.startsWith("--seed="))?.slice("--seed=".length)
if (seedArg !== undefined && !/^\d+$/.test(seedArg)) throw new Error(`--seed=${seedArg}: expected a whole number`)
const seed = seedArg === undefined ? undefined : Number(seedArg)
const python = locatePython(["torch", "numpy", "PIL"]).command
const cli = path.join(root, "packages/cli/dist/bin.js")

const copyExample = (name: string, into: string) => {
  fs.mkdirSync(into)
  for (const file of fs.readdirSync(path.join(root, "examples", name))) {
    const from = path.join(root, "examples", name, file)
    if (fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(into, file))
  }
}

/** As the scorer measures: against the targets, with the reference frames giving the scale and the shaved border. */
const score = (prediction: string, target: string, lr: string) => Effect.runPromise(Comparison.compareFiles(prediction, target, { lr }))

interface Row {
  readonly source: string
  readonly cells: Record<string, string>
}
const rows: Array<Row> = []

const runSource = async (source: string, env: Record<string, string>) => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-mfsr-bench-"))
  const research = path.join(base, "lwir-mfsr")
  copyExample("lwir-mfsr", research)
  if (seed !== undefined) {
    // The run's seed: the data (prepare's synthesis) and both trainings change with it.
    const config = path.join(research, "autoresearch.config.ts")
    const text = fs.readFileSync(config, "utf8")
    const seeded = text.replace(`name: "lwir-mfsr",`, `name: "lwir-mfsr",\n  seed: ${seed},`)
    if (seeded === text) throw new Error("lwir-mfsr's config changed: update the bench's --seed")
    fs.writeFileSync(config, seeded)
  }
  const git = (...a: Array<string>) => execFileSync("git", a, { cwd: base, stdio: "pipe" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "lwir-mfsr")
  const tag = source.replace(/[^A-Za-z0-9-]/g, "-")
  const runEnv = { ...process.env, ...env, LWIR_SMOKE: full ? "0" : "1", CI: "1", NO_COLOR: "1" }
  execFileSync(process.execPath, [cli, "run", research, "--tag", tag, "--max-experiments", "1", "--verify-seeds", "0", "--budget", seconds, "--proposer", "knob"], {
    cwd: base,
    env: runEnv,
    stdio: ["ignore", "inherit", "inherit"]
  })
  const state = path.join(base, ".autoresearch", tag)
  const entry = JSON.parse(fs.readFileSync(path.join(state, "journal.jsonl"), "utf8").split("\n")[0]!)
  const cache = path.join(state, "cache")
  const steps = `${entry.reported.steps} steps, ${entry.reported.steps_per_second} steps/s`
  if (!fs.existsSync(path.join(cache, "hidden", "hr.npy"))) {
    const m = entry.metrics
    rows.push({
      source,
      cells: {
        "bicubic (ref)": `nr_lr_psnr ${m.nr_bicubic_lr_psnr?.toFixed(3)}`,
        "lwir-mfsr baseline": `nr_lr_psnr ${m.nr_lr_psnr?.toFixed(3)}, sharpness x${m.nr_grad_ratio?.toFixed(3)} of bicubic (${steps})`
      }
    })
    fs.rmSync(base, { recursive: true, force: true })
    return
  }

  // Phase 1's model, unchanged, trained for the same time on the same bursts' reference frames.
  const single = path.join(base, "lwir-sr")
  copyExample("lwir-sr", single)
  const data = path.join(base, "single-data")
  const run = path.join(base, "single-run")
  fs.mkdirSync(run)
  const pythonIn = (argv: Array<string>, extra: Record<string, string> = {}) =>
    execFileSync(python[0]!, [...python.slice(1), ...argv], {
      cwd: single,
      env: { ...process.env, ...extra },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"]
    })
  pythonIn(["-c", `import numpy as np, os; os.makedirs("${data}"); np.save("${data}/hr.npy", np.load("${cache}/train/hr.npy")); ` +
    `np.save("${data}/lr.npy", np.ascontiguousarray(np.load("${cache}/train/bursts.npy")[:, 0]))`])
  const trained = pythonIn(["train.py"], { AUTORESEARCH_DATA_DIR: data, AUTORESEARCH_RUN_DIR: run, AUTORESEARCH_BUDGET_SECONDS: seconds, AUTORESEARCH_SEED: String(seed ?? 0) })
  const singleSteps = /steps: (\d+)/.exec(trained)?.[1]
  pythonIn(["prepare.py", "predict"], { AUTORESEARCH_INPUTS_DIR: path.join(cache, "inputs"), AUTORESEARCH_RUN_DIR: run })

  const target = path.join(cache, "hidden", "hr.npy")
  const lr = path.join(cache, "inputs", "lr.npy")
  const mfsr = await score(path.join(state, "runs", "0", "predictions.npy"), target, lr)
  const shiftAdd = await score(path.join(cache, "hidden", "shift_add.npy"), target, lr)
  const sr = await score(path.join(run, "predictions.npy"), target, lr)
  const cell = (psnr: number, ssim: number) => `${psnr.toFixed(3)} dB / ${ssim.toFixed(4)}`
  rows.push({
    source,
    cells: {
      "bicubic (ref)": cell(mfsr.bicubicPsnr!, mfsr.bicubicSsim!),
      "shift-and-add": cell(shiftAdd.psnr, shiftAdd.ssim),
      "lwir-sr (ref only)": `${cell(sr.psnr, sr.ssim)} (${singleSteps} steps)`,
      "lwir-mfsr baseline": `${cell(mfsr.psnr, mfsr.ssim)} (${steps})`,
      "gain over bicubic / single-frame": `${(mfsr.psnr - mfsr.bicubicPsnr!).toFixed(3)} / ${(mfsr.psnr - sr.psnr).toFixed(3)} dB`
    }
  })
  fs.rmSync(base, { recursive: true, force: true })
}

const only = args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length)
if (only !== undefined && only !== "synthetic" && only !== "roadscene") throw new Error(`--only=${only}: expected synthetic or roadscene`)
if (only !== "roadscene") await runSource("synthetic", {})
const roadscene = path.join(shared, "lwir-real", "roadscene")
if (only === "synthetic") console.log("skipped roadscene (--only=synthetic)")
else if (fs.existsSync(roadscene)) await runSource("roadscene", { LWIR_DATA: roadscene })
else console.log(`skipped roadscene: ${roadscene} not found`)
const sequences = path.join(shared, "lwir-bursts")
if (args.includes("--no-sequences") || only !== undefined) console.log("skipped the real sequences (--no-sequences or --only)")
else if (fs.existsSync(sequences)) await runSource("real sequences (no-reference)", { LWIR_SEQUENCES: sequences })
else console.log(`skipped the real sequences: ${sequences} not found`)

console.log(`\nlwir-mfsr, x4, ${seconds} s of training each, seed ${seed ?? 0}, ${full ? "full task (bursts of 8)" : "CPU smoke task (bursts of 4)"}; PSNR / SSIM on the same validation bursts:`)
for (const row of rows) {
  console.log(`\n${row.source}`)
  for (const [name, value] of Object.entries(row.cells)) console.log(`  ${name.padEnd(34)} ${value}`)
}
