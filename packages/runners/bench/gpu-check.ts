/**
 * The runner's GPU check, for a Linux machine with an NVIDIA GPU, bubblewrap and python3
 * with torch (CUDA). CI has no GPU, so this is run by hand where one is at hand:
 *
 *     node packages/runners/bench/gpu-check.ts
 *
 * It prints one line per check and exits 1 if any fails:
 * - the GPU pool finds the card through nvidia-smi;
 * - a sandboxed phase that leased the GPU sees NVIDIA's device nodes and CUDA works in it;
 * - the 16 GB VRAM budget holds on a bigger card: with the lwir-sr example's helper
 *   (`prepare.apply_vram_budget`), 12 GB allocate and 8 GB more are refused, while under a
 *   64 GB budget the same 20 GB allocate (so the budget, not the card, refused them);
 * - the peak VRAM the phase reports reaches the RunResult;
 * - an out-of-memory error that the phase does not catch is triaged `oom`;
 * - a phase that leased no GPU sees neither the device nodes nor CUDA.
 */
import { type PhaseRun, Runner, type RunResult } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as GpuPool from "../src/GpuPool.ts"
import * as LocalRunner from "../src/LocalRunner.ts"
import * as Sandbox from "../src/Sandbox.ts"

const example = path.resolve(import.meta.dirname, "../../../examples/lwir-sr")
const python = process.env.PYTHON ?? "python3"
const base = fs.realpathSync(fs.mkdtempSync(path.join(fs.existsSync("/var/tmp") ? "/var/tmp" : os.tmpdir(), "gpu-check-")))
const workdir = path.join(base, "research")
const hidden = path.join(base, "hidden")
fs.mkdirSync(workdir, { recursive: true })
fs.mkdirSync(hidden)
fs.writeFileSync(path.join(hidden, "targets.txt"), "held-out\n")

// What the phase sees, then 12 GB (under a 16 GB budget) and 8 GB more (over it).
// `uncaught` lets the second allocation's out-of-memory error end the phase.
fs.writeFileSync(
  path.join(workdir, "vram.py"),
  `import json, os, sys
sys.path.insert(0, os.environ["LWIR_EXAMPLE"])
import torch
import prepare

report = {
    "dev_nodes": sorted(name for name in os.listdir("/dev") if name.startswith("nvidia")),
    "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "vram_gb_env": os.environ.get("AUTORESEARCH_VRAM_GB"),
    "cuda": torch.cuda.is_available(),
    "hidden_visible": os.path.exists(${JSON.stringify(path.join(hidden, "targets.txt"))}),
    "torch": torch.__version__,
}
if report["cuda"]:
    dev = prepare.device()
    report["name"] = torch.cuda.get_device_name(dev)
    report["total_gb"] = torch.cuda.get_device_properties(dev).total_memory / 1e9
    report["budget_gb"] = prepare.apply_vram_budget(dev)
    held = [torch.empty(12 * 10**9, dtype=torch.uint8, device=dev)]
    if sys.argv[1] == "uncaught":
        held.append(torch.empty(8 * 10**9, dtype=torch.uint8, device=dev))
    try:
        held.append(torch.empty(8 * 10**9, dtype=torch.uint8, device=dev))
        report["plus_8gb"] = "allocated"
    except RuntimeError as error:  # torch.cuda.OutOfMemoryError on torch 2.x
        report["plus_8gb"] = "refused: " + str(error).splitlines()[0][:160]
    prepare.write_run_metrics(peak_vram_gb=prepare.peak_vram_gb(dev))
with open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "report.json"), "w") as f:
    json.dump(report, f)
print(json.dumps(report))
`
)

let id = 0
const run = (options: LocalRunner.LocalRunnerOptions, mode: "caught" | "uncaught") => {
  const n = String(id++)
  const experiment: PhaseRun = {
    id: n,
    workdir,
    runDir: path.join(base, "runs", n),
    seed: 0,
    hidden: [hidden],
    phase: {
      name: "train",
      command: [python, "vram.py", mode],
      timeoutSeconds: 120,
      env: { LWIR_EXAMPLE: example },
      readable: [example],
      writable: []
    }
  }
  return Effect.runPromise(
    Effect.provide(Runner.use((runner) => runner.run(experiment)), LocalRunner.layer({ sandbox: "required", ...options }))
  ).then((result) => {
    const file = path.join(result.runDir, "report.json")
    const report = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown> : {}
    return { result, report }
  })
}

let failed = 0
const check = (label: string, ok: boolean, detail: string) => {
  if (!ok) failed++
  console.log(`${ok ? "PASS" : "FAIL"}  ${label}: ${detail}`)
}
const describe = (result: RunResult) =>
  `status ${result.status}${result.reason === undefined ? "" : ` (${result.reason})`}`

try {
  const gpus = await Effect.runPromise(GpuPool.detect())
  check("GPU pool finds the card", gpus.length > 0, gpus.map((gpu) => `#${gpu.index} ${gpu.name}, ${gpu.memoryTotalMb} MiB`).join("; ") || "none")
  const probe = await Effect.runPromise(Sandbox.probe())
  check("bubblewrap works", probe.available, probe.available ? probe.version : probe.reason)
  if (gpus.length === 0 || !probe.available) throw new Error("no GPU or no sandbox: nothing more to check")

  const capped = await run({ vramBudgetGb: 16 }, "caught")
  const report = capped.report
  check("sandboxed GPU phase ends ok", capped.result.status === "ok", `${describe(capped.result)}, torch ${report.torch}`)
  check(
    "device nodes and CUDA in the sandbox",
    Array.isArray(report.dev_nodes) && report.dev_nodes.length > 0 && report.cuda === true,
    `/dev: ${JSON.stringify(report.dev_nodes)}, CUDA_VISIBLE_DEVICES=${report.cuda_visible_devices}, cuda ${report.cuda}, ${report.name}`
  )
  check("hidden targets not mounted", report.hidden_visible === false, `visible: ${report.hidden_visible}`)
  check(
    "16 GB budget holds on the card",
    report.vram_gb_env === "16" && String(report.plus_8gb).startsWith("refused"),
    `card ${Number(report.total_gb).toFixed(1)} GB, AUTORESEARCH_VRAM_GB=${report.vram_gb_env}; 12 GB allocated, 8 GB more ${report.plus_8gb}`
  )
  check(
    "peak VRAM reaches the RunResult",
    capped.result.peakMemoryGb !== undefined && Math.abs(capped.result.peakMemoryGb - 12) < 0.5,
    `peakMemoryGb ${capped.result.peakMemoryGb}`
  )

  const roomy = await run({ vramBudgetGb: 64 }, "caught")
  check(
    "control: a 64 GB budget lets the same 20 GB through",
    roomy.result.status === "ok" && roomy.report.plus_8gb === "allocated",
    `${describe(roomy.result)}, 8 GB more ${roomy.report.plus_8gb}, peak ${roomy.result.peakMemoryGb} GB`
  )

  const oom = await run({ vramBudgetGb: 16 }, "uncaught")
  check("uncaught CUDA out-of-memory is triaged oom", oom.result.status === "oom", describe(oom.result))

  const cpu = await run({ vramBudgetGb: 16, gpus: "none" }, "caught")
  check(
    "a phase without a GPU lease sees no GPU",
    cpu.result.status === "ok" && Array.isArray(cpu.report.dev_nodes) && cpu.report.dev_nodes.length === 0 && cpu.report.cuda === false,
    `${describe(cpu.result)}, /dev: ${JSON.stringify(cpu.report.dev_nodes)}, cuda ${cpu.report.cuda}`
  )
} catch (error) {
  failed++
  console.log(`FAIL  ${error instanceof Error ? error.message : String(error)}`)
} finally {
  fs.rmSync(base, { recursive: true, force: true })
}
console.log(`${failed === 0 ? "all GPU checks passed" : `${failed} GPU check(s) failed`}`)
process.exitCode = failed === 0 ? 0 : 1
