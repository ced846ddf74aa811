/**
 * `autoresearch doctor`: what a research run needs on this machine, one line each, with
 * the fix when something is wrong: Node, git, the python that runs the phases and its
 * torch/CUDA, the GPUs and their memory, the sandbox, and which API keys are set (names
 * only). Probing is I/O; turning the probes into lines is a pure function.
 */
import { Command as ShortCommand } from "@autoresearch/core"
import { GpuPool, PhaseProcess, Sandbox } from "@autoresearch/runners"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import { CliError, loadConfig } from "./LoadConfig.ts"

export interface TorchProbe {
  readonly version: string
  /** The CUDA version torch was built with; null for a CPU-only build. */
  readonly cuda: string | null
  readonly cudaAvailable: boolean
  readonly devices: number
}

export interface Probes {
  /** `process.versions.node`. */
  readonly node: string
  readonly git: { readonly version: string } | { readonly error: string }
  readonly python: {
    readonly command: ReadonlyArray<string>
    readonly version?: string
    readonly error?: string
    /** Undefined when python itself did not run. */
    readonly torch?: TorchProbe | { readonly error: string }
  }
  /** Undefined when nvidia-smi is not on PATH. */
  readonly gpus: ReadonlyArray<GpuPool.Gpu> | undefined
  readonly sandbox: Sandbox.Probe
  /** Names of the API keys and endpoints set in the environment. */
  readonly apiKeys: ReadonlyArray<string>
  /** Slurm's commands, for `--runner slurm`: each one's version, or why it did not answer. */
  readonly slurm?: ReadonlyArray<{ readonly command: string; readonly version?: string; readonly error?: string }>
}

export type Level = "ok" | "warn" | "fail"

export interface Check {
  readonly level: Level
  readonly text: string
}

/** module.registerHooks (22.15) and type stripping on by default, for autoresearch.config.ts (22.18). */
export const minimumNode = [22, 18] as const

/** Names the proposers read; only whether they are set is ever shown. */
export const apiKeyNames = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_BASE_URL"]

const nodeIsRecent = (version: string) => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  return major > minimumNode[0] || (major === minimumNode[0] && minor >= minimumNode[1])
}

const gib = (mib: number) => (mib / 1024).toFixed(1)

/** The checks, in the order they print. */
export const checks = (probes: Probes): Array<Check> => {
  const lines: Array<Check> = []
  lines.push(
    nodeIsRecent(probes.node)
      ? { level: "ok", text: `node ${probes.node}` }
      : { level: "fail", text: `node ${probes.node}: autoresearch needs ${minimumNode.join(".")} or later — install a newer Node` }
  )
  lines.push(
    "version" in probes.git
      ? { level: "ok", text: probes.git.version }
      : { level: "fail", text: `git: ${probes.git.error} — install git (e.g. apt-get install git)` }
  )
  const python = probes.python.command.join(" ")
  if (probes.python.version === undefined) {
    lines.push({
      level: "fail",
      text: `python '${python}': ${probes.python.error ?? "did not run"} — install Python 3, or set \`python\` in autoresearch.config.ts (or pass --python)`
    })
  } else {
    lines.push({ level: "ok", text: `python '${python}': ${probes.python.version}` })
  }
  const torch = probes.python.torch
  const gpuCount = probes.gpus?.length ?? 0
  if (torch !== undefined && "error" in torch) {
    lines.push({
      level: "warn",
      text: `torch: not importable in '${python}' (${torch.error}) — install torch there to run the PyTorch examples (the toy example needs none)`
    })
  } else if (torch !== undefined) {
    if (torch.cudaAvailable) {
      lines.push({ level: "ok", text: `torch ${torch.version}, CUDA ${torch.cuda}, ${torch.devices} GPU${torch.devices === 1 ? "" : "s"} visible` })
    } else if (gpuCount > 0) {
      lines.push({
        level: "warn",
        text: `torch ${torch.version} cannot use the GPU (${torch.cuda === null ? "a CPU-only build" : `built for CUDA ${torch.cuda}, but CUDA is not available`}) — install a torch build for this machine's CUDA driver`
      })
    } else {
      lines.push({ level: "ok", text: `torch ${torch.version}, CPU only` })
    }
  }
  if (probes.gpus === undefined) {
    lines.push({ level: "warn", text: "gpus: none (nvidia-smi not found) — experiments run on the CPU; install the NVIDIA driver to use a GPU" })
  } else if (probes.gpus.length === 0) {
    lines.push({ level: "warn", text: "gpus: nvidia-smi lists none — experiments run on the CPU; check the driver with `nvidia-smi`" })
  } else {
    for (const gpu of probes.gpus) {
      lines.push({
        level: "ok",
        text: `gpu ${gpu.index}: ${gpu.name}, ${gib(gpu.memoryTotalMb)} GiB (${gib(gpu.memoryUsedMb)} GiB in use)`
      })
    }
  }
  lines.push(
    probes.sandbox.available
      ? { level: "ok", text: `sandbox: ${probes.sandbox.version} (no network, read-only filesystem, hidden targets)` }
      : {
        level: "warn",
        text: `sandbox: unavailable (${probes.sandbox.reason}) — experiments run unsandboxed, with a warning in the journal; install bubblewrap (apt-get install bubblewrap)`
      }
  )
  lines.push(
    probes.apiKeys.length > 0
      ? { level: "ok", text: `api keys: ${probes.apiKeys.join(", ")} set` }
      : {
        level: "warn",
        text: "api keys: none set — set ANTHROPIC_API_KEY or OPENAI_API_KEY for an LLM proposer; offline proposers need none"
      }
  )
  lines.push(...slurmChecks(probes.slurm))
  return lines
}

/** Slurm, needed only for `--runner slurm`: nothing to warn of where none is installed. */
const slurmChecks = (slurm: Probes["slurm"]): Array<Check> => {
  if (slurm === undefined) return []
  const sbatch = slurm.find((tool) => tool.command === "sbatch")
  if (sbatch?.error === "not found") return [{ level: "ok", text: "slurm: not installed (needed only for --runner slurm)" }]
  return slurm.map((tool): Check => {
    if (tool.command === "sacct" && tool.error !== undefined && /accounting storage is disabled/i.test(tool.error)) {
      return { level: "ok", text: "slurm sacct: accounting is off; the Slurm runner follows jobs with scontrol" }
    }
    if (tool.error === undefined) return { level: "ok", text: `slurm ${tool.command}: ${tool.version ?? "answers"}` }
    return {
      level: tool.command === "sacct" ? "warn" : "fail",
      text: `slurm ${tool.command}: ${tool.error}${tool.command === "sacct" ? " (the Slurm runner needs only scontrol)" : " — --runner slurm needs sbatch, squeue, scontrol and scancel working"}`
    }
  })
}

const marks: Record<Level, string> = { ok: "ok  ", warn: "warn", fail: "FAIL" }

export const formatCheck = (check: Check) => `${marks[check.level]}  ${check.text}`

// ---------------------------------------------------------------------------
// Probes

interface Captured {
  readonly stdout: string
  readonly error?: string
}

const capture = (argv: ReadonlyArray<string>, timeoutMs: number) =>
  ShortCommand.run(argv[0]!, argv.slice(1), { timeoutMs, maxBytes: 1 << 20 }).pipe(
    Effect.map((output): Captured => {
      if (ShortCommand.succeeded(output)) return { stdout: output.stdout }
      const said = output.stderr.trim().split("\n").at(-1)
      const detail = said || (output.killed ? "timed out" : `exited with ${output.exitCode ?? output.signal}`)
      return { stdout: output.stdout, error: detail }
    }),
    Effect.catchTag("CommandError", (error) => Effect.succeed({ stdout: "", error: error.code === "ENOENT" ? "not found" : error.code }))
  )

const torchScript = [
  "import json",
  "try:",
  "    import torch",
  "except Exception as error:",
  "    print(json.dumps({'error': type(error).__name__ + ': ' + str(error)}))",
  "else:",
  "    available = torch.cuda.is_available()",
  "    print(json.dumps({'version': torch.__version__, 'cuda': torch.version.cuda, 'cudaAvailable': available,",
  "                      'devices': torch.cuda.device_count() if available else 0}))"
].join("\n")

const probePython = Effect.fnUntraced(function*(command: ReadonlyArray<string>) {
  const version = yield* capture([...command, "--version"], 30_000)
  if (version.error !== undefined) return { command, error: version.error }
  const torch = yield* capture([...command, "-c", torchScript], 120_000)
  let parsed: TorchProbe | { error: string }
  try {
    parsed = JSON.parse(torch.stdout.trim().split("\n").at(-1) ?? "") as TorchProbe | { error: string }
  } catch {
    parsed = { error: torch.error ?? "no answer" }
  }
  return { command, version: version.stdout.trim(), torch: parsed }
})

/** Each Slurm command asked something harmless: its version, the queue, the partitions, the accounting. */
const probeSlurm = Effect.forEach([
  ["sbatch", "--version"],
  ["squeue", "--version"],
  ["scontrol", "ping"],
  ["scancel", "--version"],
  ["sacct", "-n", "-X", "-S", "now"]
], (argv) =>
  capture(argv, 20_000).pipe(Effect.map((found) => ({
    command: argv[0]!,
    ...(found.error === undefined ? { version: found.stdout.trim().split("\n")[0] ?? "" } : { error: found.error })
  }))))

/** Runs every probe; none fails, each says what it found. */
export const probe = Effect.fnUntraced(function*(python: ReadonlyArray<string>) {
  const git = yield* capture(["git", "--version"], 30_000)
  const nvidiaSmi = PhaseProcess.resolveExecutable("nvidia-smi", process.env.PATH ?? "", process.cwd())
  return {
    node: process.versions.node,
    git: git.error === undefined ? { version: git.stdout.trim() } : { error: git.error },
    python: yield* probePython(python),
    gpus: nvidiaSmi === undefined ? undefined : yield* GpuPool.detect(nvidiaSmi),
    sandbox: yield* Sandbox.probe(),
    apiKeys: apiKeyNames.filter((name) => (process.env[name] ?? "") !== ""),
    slurm: yield* probeSlurm
  } satisfies Probes
})

export const doctor = Command.make(
  "doctor",
  {
    dir: Argument.String("dir").pipe(
      Argument.withDescription("A research directory whose config says which python to check"),
      Argument.optional
    ),
    python: Flag.String("python").pipe(
      Flag.withDescription("The python command to check, e.g. '.venv/bin/python' or 'uv run python' (default python3)"),
      Flag.optional
    )
  },
  Effect.fnUntraced(function*(input) {
    let python = ["python3"]
    if (Option.isSome(input.dir)) python = [...(yield* loadConfig(path.resolve(input.dir.value))).config.python]
    if (Option.isSome(input.python)) python = input.python.value.split(/\s+/).filter((part) => part !== "")
    const found = checks(yield* probe(python))
    yield* Effect.sync(() => process.stdout.write(found.map(formatCheck).join("\n") + "\n"))
    const failed = found.filter((check) => check.level === "fail").length
    if (failed > 0) return yield* new CliError({ reason: `doctor: ${failed} check${failed === 1 ? "" : "s"} failed` })
  })
).pipe(Command.withDescription("Check this machine for research runs: Node, git, python and torch, GPUs, sandbox, API keys, Slurm"))
