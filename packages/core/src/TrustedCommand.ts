/**
 * Running one of the harness's own, trusted commands (a scorer's `prepare.py score`)
 * with the same hold on its processes as an experiment's phase: its own process group,
 * every process marked, recorded beside the run directories before it starts (so the
 * next run kills it if this one is SIGKILLed), dying with its parent where setpriv works,
 * and stopped as a whole tree on interruption, at its deadline and when it ends.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as Orphans from "./Orphans.ts"
import * as ProcessTree from "./ProcessTree.ts"

export interface TrustedCommandOptions {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  /** The whole environment (nothing is inherited); the marker is added to it. */
  readonly env: Readonly<Record<string, string>>
  readonly timeoutSeconds: number
  /** Where the command is recorded while it runs: the run directories' parent, which every run sweeps. */
  readonly recordDir: string
  /** Output kept per stream; past it the command is stopped (default 16 MiB). */
  readonly maxBytes?: number
}

export interface TrustedExit {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  /** Stopped because it wrote more than `maxBytes` to a stream. */
  readonly overflowed: boolean
  /** The process could not be started at all (e.g. ENOENT). */
  readonly spawnError?: string
}

/** The variable that marks every process of the command, as it marks a phase's. */
const markerVariable = "AUTORESEARCH_RUN_ID"

const killTree = (processGroup: number | undefined, marker: { readonly variable: string; readonly value: string }) => {
  ProcessTree.signalGroup(processGroup, "SIGKILL")
  ProcessTree.signal(ProcessTree.markedMembers({ ...marker, processGroup }), "SIGKILL")
}

/** Runs the command to its end (or its deadline); interrupting it kills its whole tree first. */
export const run = (options: TrustedCommandOptions): Effect.Effect<TrustedExit> =>
  Effect.acquireUseRelease(
    Effect.gen(function*() {
      // A trusted command that a killed run left behind must not race this one.
      yield* Effect.promise(() => Orphans.sweepOrphans(options.recordDir))
      const prefix = yield* Orphans.parentDeathPrefix()
      const marker = { variable: markerVariable, value: `trusted-${crypto.randomUUID()}` }
      const record = Orphans.record(options.recordDir, marker, undefined)
      const [file, ...args] = [...prefix, ...options.argv]
      const child = spawn(file!, args, {
        cwd: options.cwd,
        env: { ...options.env, [marker.variable]: marker.value },
        detached: true,
        stdio: ["ignore", "pipe", "pipe"]
      })
      record.started(child.pid)
      return { child, marker, record }
    }),
    ({ child, marker }) =>
      Effect.callback<TrustedExit>((resume) => {
        const maxBytes = options.maxBytes ?? 16 << 20
        const output = { stdout: "", stderr: "" }
        let timedOut = false
        let overflowed = false
        let spawnError: string | undefined
        const collect = (stream: "stdout" | "stderr") => (chunk: string) => {
          if (output[stream].length + chunk.length > maxBytes) {
            overflowed = true
            killTree(child.pid, marker)
          } else output[stream] += chunk
        }
        child.stdout!.setEncoding("utf8").on("data", collect("stdout"))
        child.stderr!.setEncoding("utf8").on("data", collect("stderr"))
        const deadline = setTimeout(() => {
          timedOut = true
          killTree(child.pid, marker)
        }, options.timeoutSeconds * 1000)
        child.on("error", (error) => (spawnError = error.message))
        child.on("close", (exitCode, signal) => {
          clearTimeout(deadline)
          resume(Effect.succeed({
            ...output,
            exitCode,
            signal,
            timedOut,
            overflowed,
            ...(spawnError === undefined ? {} : { spawnError })
          }))
        })
        return Effect.sync(() => {
          clearTimeout(deadline)
          killTree(child.pid, marker)
        })
      }),
    ({ child, marker, record }) =>
      Effect.sync(() => {
        // What it started and left running (a worker, a daemon) goes with it.
        killTree(child.exitCode === null && child.signalCode === null ? child.pid : undefined, marker)
        record.remove()
      })
  )
