/**
 * Running a short command and reading what it printed: git, the python probes, nvidia-smi,
 * a capability check. The one way the harness runs such a command. A supervised process
 * (its own process group, its output streamed, its whole tree killed) is started with
 * `spawn` by TrustedCommand and the runners' PhaseProcess instead.
 */
import { Effect, Schema } from "effect"
import { spawn, spawnSync } from "node:child_process"

export interface CommandOptions {
  readonly cwd?: string
  /** The whole environment; `process.env` when not given. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Milliseconds before it is killed with SIGKILL (default 60 s; 0 for no deadline). */
  readonly timeoutMs?: number
  /** Text written to its stdin; stdin is empty otherwise. */
  readonly input?: string
  /** Bytes of output kept per stream; past it the command is killed (default 64 MiB). */
  readonly maxBytes?: number
}

export interface CommandOutput {
  readonly stdout: string
  /** stdout exactly as written (a blob from `git show`). */
  readonly stdoutBytes: Buffer
  readonly stderr: string
  /** null when a signal ended it. */
  readonly exitCode: number | null
  readonly signal: string | null
  /** Killed at its deadline, or for writing more than `maxBytes`. */
  readonly killed: boolean
}

/** The command could not be started at all: `code` is the system's (ENOENT when it is not found). */
export class CommandError extends Schema.TaggedError<CommandError>()("CommandError", {
  command: Schema.String,
  code: Schema.String
}) {
  override get message() {
    return `${this.command}: ${this.code === "ENOENT" ? "not found" : this.code}`
  }
}

/** Exited with 0. */
export const succeeded = (output: CommandOutput) => output.exitCode === 0

const defaults = { timeoutMs: 60_000, maxBytes: 64 << 20 }

const asBuffer = (value: string | Buffer | null | undefined): Buffer =>
  Buffer.isBuffer(value) ? value : Buffer.from(value ?? "")

const outputOf = (stdout: Buffer, stderr: Buffer, exitCode: number | null, signal: string | null, killed: boolean): CommandOutput => ({
  stdout: stdout.toString("utf8"),
  stdoutBytes: stdout,
  stderr: stderr.toString("utf8"),
  exitCode,
  signal,
  killed
})

/** Runs `command` to its end; interrupting the effect kills it. Fails only when it cannot start. */
export const run = (command: string, args: ReadonlyArray<string>, options: CommandOptions = {}) =>
  Effect.callback<CommandOutput, CommandError>((resume) => {
    const maxBytes = options.maxBytes ?? defaults.maxBytes
    const timeoutMs = options.timeoutMs ?? defaults.timeoutMs
    const child = spawn(command, [...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env as NodeJS.ProcessEnv }),
      stdio: ["pipe", "pipe", "pipe"]
    })
    const chunks = { stdout: [] as Array<Buffer>, stderr: [] as Array<Buffer> }
    const sizes = { stdout: 0, stderr: 0 }
    let killed = false
    const kill = () => {
      killed = true
      child.kill("SIGKILL")
    }
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream].on("data", (chunk: Buffer) => {
        sizes[stream] += chunk.length
        if (sizes[stream] > maxBytes) return kill()
        chunks[stream].push(chunk)
      })
    }
    const deadline = timeoutMs > 0 ? setTimeout(kill, timeoutMs) : undefined
    let failed: string | undefined
    child.on("error", (error: NodeJS.ErrnoException) => {
      if (child.pid === undefined) failed = error.code ?? error.message
    })
    child.on("close", (exitCode, signal) => {
      clearTimeout(deadline)
      if (failed !== undefined) return resume(Effect.fail(new CommandError({ command, code: failed })))
      resume(Effect.succeed(outputOf(Buffer.concat(chunks.stdout), Buffer.concat(chunks.stderr), exitCode, signal, killed)))
    })
    // An EPIPE from a command that exits without reading its input is not a failure of ours.
    child.stdin.on("error", () => undefined)
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => {
      clearTimeout(deadline)
      child.kill("SIGKILL")
    })
  })

/**
 * `run`, blocking: for what must answer synchronously (a config file that looks for its
 * python while it is loaded). Undefined when the command cannot start.
 */
export const runSync = (command: string, args: ReadonlyArray<string>, options: CommandOptions = {}): CommandOutput | undefined => {
  const result = spawnSync(command, [...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env as NodeJS.ProcessEnv }),
    timeout: options.timeoutMs ?? defaults.timeoutMs,
    maxBuffer: options.maxBytes ?? defaults.maxBytes,
    killSignal: "SIGKILL",
    input: options.input ?? "",
    stdio: "pipe"
  })
  const code = (result.error as NodeJS.ErrnoException | undefined)?.code
  if (code !== undefined && code !== "ETIMEDOUT" && code !== "ENOBUFS") return undefined
  return outputOf(asBuffer(result.stdout), asBuffer(result.stderr), result.status, result.signal, code !== undefined)
}
