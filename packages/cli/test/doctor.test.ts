import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { checks, formatCheck, probe, type Probes } from "../src/Doctor.ts"

const healthy: Probes = {
  node: "24.3.0",
  git: { version: "git version 2.43.0" },
  python: {
    command: [".venv/bin/python"],
    version: "Python 3.11.7",
    torch: { version: "2.5.1+cu124", cuda: "12.4", cudaAvailable: true, devices: 1 }
  },
  gpus: [{ index: 0, uuid: "GPU-1", name: "NVIDIA H100 80GB HBM3", memoryTotalMb: 81559, memoryUsedMb: 512 }],
  sandbox: { available: true, bwrap: "bwrap", version: "bubblewrap 0.8.0" },
  apiKeys: ["ANTHROPIC_API_KEY"]
}

const lines = (probes: Probes) => checks(probes).map(formatCheck)

describe("doctor's checks", () => {
  it("prints one ok line per check on a healthy GPU machine", () => {
    assert.deepStrictEqual(lines(healthy), [
      "ok    node 24.3.0",
      "ok    git version 2.43.0",
      "ok    python '.venv/bin/python': Python 3.11.7",
      "ok    torch 2.5.1+cu124, CUDA 12.4, 1 GPU visible",
      "ok    gpu 0: NVIDIA H100 80GB HBM3, 79.6 GiB (0.5 GiB in use)",
      "ok    sandbox: bubblewrap 0.8.0 (no network, read-only filesystem, hidden targets)",
      "ok    api keys: ANTHROPIC_API_KEY set"
    ])
  })

  it("checks Slurm's commands for --runner slurm, and says nothing is wrong where Slurm is not installed", () => {
    const slurm = (sacct: { version?: string; error?: string }, scancel: { version?: string; error?: string } = { version: "slurm 22.05.8" }): Probes => ({
      ...healthy,
      slurm: [
        { command: "sbatch", version: "slurm 22.05.8" },
        { command: "squeue", version: "slurm 22.05.8" },
        { command: "scontrol", version: "Slurmctld(primary) at head is UP" },
        { command: "scancel", ...scancel },
        { command: "sacct", ...sacct }
      ]
    })
    assert.deepStrictEqual(lines(slurm({ error: "Slurm accounting storage is disabled" })).slice(7), [
      "ok    slurm sbatch: slurm 22.05.8",
      "ok    slurm squeue: slurm 22.05.8",
      "ok    slurm scontrol: Slurmctld(primary) at head is UP",
      "ok    slurm scancel: slurm 22.05.8",
      "ok    slurm sacct: accounting is off; the Slurm runner follows jobs with scontrol"
    ])
    assert.deepStrictEqual(lines(slurm({ error: "connection refused" }, { error: "permission denied" })).slice(10), [
      "FAIL  slurm scancel: permission denied — --runner slurm needs sbatch, squeue, scontrol and scancel working",
      "warn  slurm sacct: connection refused (the Slurm runner needs only scontrol)"
    ])
    assert.deepStrictEqual(lines({ ...healthy, slurm: [{ command: "sbatch", error: "not found" }] }).slice(7), [
      "ok    slurm: not installed (needed only for --runner slurm)"
    ])
  })

  it("says what is wrong and how to fix it", () => {
    const broken: Probes = {
      node: "20.11.1",
      git: { error: "not found" },
      python: { command: ["uv", "run", "python"], error: "not found" },
      gpus: undefined,
      sandbox: { available: false, bwrap: "bwrap", reason: "bwrap not found" },
      apiKeys: []
    }
    assert.deepStrictEqual(lines(broken), [
      "FAIL  node 20.11.1: autoresearch needs 22.18 or later — install a newer Node",
      "FAIL  git: not found — install git (e.g. apt-get install git)",
      "FAIL  python 'uv run python': not found — install Python 3, or set `python` in autoresearch.config.ts (or pass --python)",
      "warn  gpus: none (nvidia-smi not found) — experiments run on the CPU; install the NVIDIA driver to use a GPU",
      "warn  sandbox: unavailable (bwrap not found) — experiments run unsandboxed, with a warning in the journal; install bubblewrap (apt-get install bubblewrap)",
      "warn  api keys: none set — set ANTHROPIC_API_KEY or OPENAI_API_KEY for an LLM proposer; offline proposers need none"
    ])
  })

  it("tells a CPU-only torch on a GPU machine from one on a CPU machine, and a missing torch from both", () => {
    const cpuTorch = { version: "1.13.1", cuda: null, cudaAvailable: false, devices: 0 }
    assert.strictEqual(
      lines({ ...healthy, python: { ...healthy.python, torch: cpuTorch } })[3],
      "warn  torch 1.13.1 cannot use the GPU (a CPU-only build) — install a torch build for this machine's CUDA driver"
    )
    assert.strictEqual(lines({ ...healthy, gpus: [], python: { ...healthy.python, torch: cpuTorch } })[3], "ok    torch 1.13.1, CPU only")
    assert.strictEqual(
      lines({ ...healthy, python: { ...healthy.python, torch: { error: "ModuleNotFoundError: No module named 'torch'" } } })[3],
      "warn  torch: not importable in '.venv/bin/python' (ModuleNotFoundError: No module named 'torch') — install torch there to run the PyTorch examples (the toy example needs none)"
    )
  })

  it("lists every GPU with its memory", () => {
    const gpus = [0, 1].map((index) => ({ index, uuid: `GPU-${index}`, name: "NVIDIA A100-SXM4-80GB", memoryTotalMb: 81920, memoryUsedMb: 0 }))
    const printed = lines({ ...healthy, gpus })
    assert.deepStrictEqual(printed.filter((line) => line.includes("gpu ")), [
      "ok    gpu 0: NVIDIA A100-SXM4-80GB, 80.0 GiB (0.0 GiB in use)",
      "ok    gpu 1: NVIDIA A100-SXM4-80GB, 80.0 GiB (0.0 GiB in use)"
    ])
  })
})

describe("doctor's probes", () => {
  it.live("probe this machine without failing, and never show a key's value", () =>
    Effect.gen(function*() {
      process.env.OPENAI_API_KEY = "sk-test-never-printed"
      try {
        const probes = yield* probe(["python3"])
        assert.strictEqual(probes.node, process.versions.node)
        assert.include(probes.apiKeys, "OPENAI_API_KEY")
        const text = checks(probes).map(formatCheck).join("\n")
        assert.notInclude(text, "sk-test-never-printed")
        assert.include(text, `node ${process.versions.node}`)
      } finally {
        delete process.env.OPENAI_API_KEY
      }
    }))
})
