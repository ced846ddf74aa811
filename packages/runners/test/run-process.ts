/**
 * Starting a process in a test, with Node's child_process as everywhere else (no execa):
 * its pid at once, and how it ended with what it printed.
 */
import { spawn } from "node:child_process"

/** How a process started with `startProcess` ended, with what it printed. */
export interface Finished {
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts `file` with `args` (no shell), its output collected: `pid` at once, `finished`
 * when it ends, however it ends (never rejected: a failure to start reads as exit 127).
 */
export const startProcess = (file: string, args: ReadonlyArray<string>): { readonly pid: number | undefined; readonly finished: Promise<Finished> } => {
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"] })
  const stdout: Array<Buffer> = []
  const stderr: Array<Buffer> = []
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
  const finished = new Promise<Finished>((resolve) => {
    child.on("error", (error) => resolve({ exitCode: 127, signal: null, stdout: "", stderr: error.message }))
    child.on("close", (exitCode, signal) =>
      resolve({ exitCode, signal, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") }))
  })
  return { pid: child.pid, finished }
}

/** Runs `file` with `args` to its end: see `startProcess`. */
export const runProcess = (file: string, args: ReadonlyArray<string>): Promise<Finished> => startProcess(file, args).finished
