/**
 * One phase as a running process tree, supervised from outside: spawned in its own process
 * group (Node's `spawn`, as TrustedCommand starts a scorer), its output pumped into a
 * bounded log, its wall clock enforced by a deadline, and stopped as a whole (SIGTERM to
 * every member, then SIGKILL) at the deadline or on request. In
 * the sandbox the tree is bubblewrap's PID namespace; without it, the processes that
 * carry the phase's marker (see ProcessTree).
 */
import { Process, ProcessTree } from "@autoresearch/core"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import type { BoundedLog } from "./BoundedLog.ts"

export interface PhaseProcessSpec {
  /** Full argv: the command, or bubblewrap with its arguments then the command. */
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  /** argv runs bubblewrap, which reports its PID namespace on fd 3. */
  readonly sandboxed: boolean
  /** The variable and value that mark every process of this phase (unsandboxed). */
  readonly marker: { readonly variable: string; readonly value: string }
  readonly timeoutSeconds: number
  readonly killGraceSeconds: number
  readonly log: BoundedLog
}

export interface PhaseExit {
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly interrupted: boolean
  readonly seconds: number
  /** The process could not be started at all (e.g. ENOENT). */
  readonly spawnError?: string
}

/** Seconds to wait for the output pipes to close once the process tree is gone. */
const drainSeconds = 2

/** Milliseconds a stop waits for bubblewrap to report its namespace before it kills bubblewrap alone. */
const namespaceWaitMs = 5000

/** The longest delay Node's timers take: a longer one fires after 1 ms (TimeoutOverflowWarning). */
export const maxTimerMs = 2 ** 31 - 1

/** The next timer towards a deadline `remainingMs` away: never more than a timer takes, never negative. */
export const nextTimerMs = (remainingMs: number): number =>
  Number.isNaN(remainingMs) ? 0 : Math.min(Math.max(0, remainingMs), maxTimerMs)

/** Resolves after `ms`, without keeping the process alive for it. */
const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref()
  })

/** The executable a command names, resolved as the phase's PATH and working directory would. */
export const resolveExecutable = Process.resolveExecutable

/**
 * Opens the namespace of bubblewrap's init, so that its inode cannot be given to another
 * sandbox's namespace while this phase's members are still being looked for by it.
 */
const holdNamespace = (init: number, inode: number): number | undefined => {
  try {
    const fd = fs.openSync(`/proc/${init}/ns/pid`, "r")
    if (fs.fstatSync(fd).ino === inode) return fd
    fs.closeSync(fd)
  } catch {
    // gone already, or not ours to open
  }
  return undefined
}

export class PhaseProcess {
  readonly exited: Promise<PhaseExit>
  private readonly child: ChildProcess
  private readonly started = performance.now()
  private deadline: NodeJS.Timeout | undefined
  private namespace: { readonly init: number; readonly inode: number; readonly held: number | undefined } | undefined
  /** bubblewrap reported its namespace, or its info pipe closed without it: nothing more will come. */
  private readonly namespaceSettled: Promise<void>
  private settleNamespace: () => void = () => undefined
  private stopping: Promise<void> | undefined
  private sweep: Promise<void> | undefined
  private timedOut = false
  private interrupted = false
  private exit: PhaseExit | undefined
  private readonly streamsClosed: Promise<void>
  private readonly spec: PhaseProcessSpec

  private constructor(spec: PhaseProcessSpec) {
    this.spec = spec
    const [file, ...args] = spec.argv
    this.child = spawn(file!, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", spec.sandboxed ? "pipe" : "ignore"]
    })
    const pump = (stream: NodeJS.ReadableStream | null | undefined) =>
      new Promise<void>((resolve) => {
        if (!stream) return resolve()
        stream.on("data", (chunk: Buffer) => spec.log.write(chunk))
        stream.on("close", () => resolve())
        stream.on("error", () => resolve())
      })
    this.streamsClosed = Promise.all([pump(this.child.stdout), pump(this.child.stderr)]).then(() => undefined)
    this.namespaceSettled = new Promise<void>((resolve) => {
      this.settleNamespace = resolve
    })
    if (spec.sandboxed) this.readNamespace(this.child.stdio[3] as NodeJS.ReadableStream | undefined)
    else this.settleNamespace()
    this.armDeadline(this.started + spec.timeoutSeconds * 1000)
    this.exited = new Promise<PhaseExit>((resolve) => {
      const done = (exitCode: number | null, signal: string | null, spawnError?: string) => {
        if (this.exit !== undefined) return
        clearTimeout(this.deadline)
        this.deadline = undefined
        this.exit = {
          exitCode,
          signal,
          timedOut: this.timedOut,
          interrupted: this.interrupted,
          seconds: (performance.now() - this.started) / 1000,
          ...(spawnError === undefined ? {} : { spawnError })
        }
        resolve(this.exit)
      }
      this.child.on("exit", (code, signal) => done(code, signal))
      // A process that never started gets an error and no exit event.
      this.child.on("error", (error: NodeJS.ErrnoException) => {
        if (this.child.pid === undefined) done(null, null, error.code ?? error.message)
      })
    })
  }

  static start(spec: PhaseProcessSpec): PhaseProcess {
    return new PhaseProcess(spec)
  }

  /** The PID of the process spawned (bubblewrap in the sandbox), which leads the phase's process group. */
  get pid(): number | undefined {
    return this.child.pid
  }

  /** Times the phase out at `deadline` (performance.now()), in steps a Node timer can take. */
  private armDeadline(deadline: number) {
    this.deadline = setTimeout(() => {
      if (this.exit !== undefined) return
      if (deadline - performance.now() > 0) return this.armDeadline(deadline)
      this.timedOut = true
      void this.stop("timeout")
    }, nextTimerMs(deadline - performance.now()))
  }

  /** Stops the whole tree: SIGTERM to every member, SIGKILL after the grace; resolves once the phase has exited. */
  stop(reason: "timeout" | "interrupted"): Promise<void> {
    if (reason === "interrupted" && this.exit === undefined) this.interrupted = true
    this.stopping ??= (async () => {
      if (this.spec.sandboxed && this.exit === undefined && this.namespace === undefined) {
        // Killing bubblewrap before it reported its namespace can leave the namespace's init behind, unseen.
        await Promise.race([this.namespaceSettled, this.exited, delay(namespaceWaitMs)])
      }
      if (this.exit === undefined) {
        // Nothing to warn yet (the namespace holds only its init, the command is not started): no grace to wait.
        if (this.signalMembers("SIGTERM") === 0) return await this.killAll()
        const graceOver = new Promise<"grace">((resolve) => {
          const timer = setTimeout(() => resolve("grace"), this.spec.killGraceSeconds * 1000)
          void this.exited.then(() => clearTimeout(timer))
        })
        await Promise.race([this.exited, graceOver])
      }
      await this.killAll()
    })()
    return this.stopping
  }

  /**
   * Kills the whole tree now, without a grace (a cap was exceeded, and every second more
   * makes it worse); false when the phase had already exited, and nothing was done.
   */
  abort(): boolean {
    if (this.exit !== undefined) return false
    void this.killAll()
    return true
  }

  /** The host PIDs of the phase's processes now: bubblewrap and its namespace in the sandbox, else the marked tree. */
  members(): Array<number> {
    if (!this.spec.sandboxed) return this.unsandboxedMembers()
    const inNamespace = this.namespace === undefined ? [] : ProcessTree.namespaceMembers(this.namespace.inode)
    return [...new Set([...(this.exit === undefined && this.child.pid !== undefined ? [this.child.pid] : []), ...inNamespace])]
  }

  /**
   * Once the phase has exited: kills whatever it left behind (daemons, orphans), waits
   * for its output to drain and closes the log.
   */
  async finish(): Promise<void> {
    if (this.exit === undefined) await this.stop("interrupted")
    await this.killAll()
    let timer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      this.streamsClosed.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), drainSeconds * 1000)
      })
    ])
    clearTimeout(timer)
    // Something outside the tree still holds the pipes; stop reading them.
    if (!drained) for (const stream of [this.child.stdout, this.child.stderr]) stream?.destroy()
    this.spec.log.close()
  }

  private readNamespace(stream: NodeJS.ReadableStream | undefined) {
    if (!stream) return this.settleNamespace()
    let text = ""
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString("utf8")
      try {
        const info = JSON.parse(text) as { "child-pid"?: number; "pid-namespace"?: number }
        if (this.namespace === undefined && typeof info["child-pid"] === "number" && typeof info["pid-namespace"] === "number") {
          this.namespace = { init: info["child-pid"], inode: info["pid-namespace"], held: holdNamespace(info["child-pid"], info["pid-namespace"]) }
          this.settleNamespace()
        }
      } catch {
        // not all of it yet
      }
    })
    for (const event of ["end", "close", "error"]) stream.on(event, () => this.settleNamespace())
  }

  /** Signals every member of the phase's tree; returns how many it signalled. */
  private signalMembers(signal: NodeJS.Signals): number {
    const members = (() => {
      if (!this.spec.sandboxed) return this.unsandboxedMembers()
      const namespace = this.namespace
      // Not started far enough to know its namespace: bubblewrap itself goes, and everything with it.
      if (namespace === undefined) return this.exit === undefined && this.child.pid !== undefined ? [this.child.pid] : []
      // The namespace's init (bubblewrap's) would take every member down at once; it is left for SIGKILL.
      return ProcessTree.namespaceMembers(namespace.inode).filter((pid) => pid !== namespace.init)
    })()
    if (!this.spec.sandboxed) ProcessTree.signalGroup(this.child.pid, signal)
    ProcessTree.signal(members, signal)
    return members.length
  }

  private unsandboxedMembers() {
    // Once the leader is reaped its PID, and so the group's number, may be reused: only the marker counts then.
    return ProcessTree.markedMembers({ ...this.spec.marker, processGroup: this.exit === undefined ? this.child.pid : undefined })
  }

  /**
   * After bubblewrap has exited: the kernel may not have finished tearing its namespace
   * down yet, and an init that bubblewrap never reported is found by the phase's marker.
   */
  private async sweepNamespace() {
    // What bubblewrap wrote before it died is still in the pipe.
    if (this.namespace === undefined) await Promise.race([this.namespaceSettled, delay(1000)])
    const namespace = this.namespace
    for (let round = 0; round < 200; round++) {
      // No process leaves a PID namespace: the marker (every process's environment read) is needed only without one.
      const members = namespace === undefined
        ? ProcessTree.markedMembers({ ...this.spec.marker, processGroup: undefined })
        : ProcessTree.namespaceMembers(namespace.inode)
      if (members.length === 0) break
      ProcessTree.signal(members, "SIGKILL")
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    if (namespace?.held !== undefined) fs.closeSync(namespace.held)
  }

  /** SIGKILL to everything in the tree, repeated until nothing of it is left (forks may race the scan). */
  private async killAll() {
    if (this.spec.sandboxed) {
      // bubblewrap runs with --die-with-parent in a PID namespace: killing it kills its init, which kills every member.
      if (this.exit === undefined && this.child.pid !== undefined) ProcessTree.signal([this.child.pid], "SIGKILL")
      await this.exited
      this.sweep ??= this.sweepNamespace()
      return this.sweep
    }
    for (let round = 0; round < 50; round++) {
      if (this.exit === undefined) ProcessTree.signalGroup(this.child.pid, "SIGKILL")
      const members = this.unsandboxedMembers()
      if (members.length === 0 && this.exit !== undefined) return
      ProcessTree.signal(members, "SIGKILL")
      await new Promise((resolve) => setTimeout(resolve, round < 10 ? 10 : 50))
    }
  }
}
