/**
 * The memory, process and file-size limits of each phase, put in place: once per runner,
 * what this host allows (a cgroup v2, a cgroup v1, prlimit, or nothing; see
 * `Caps.chooseEnforcement`); then for each phase its own cgroup, removed after it, and the
 * argv prefix that puts its first process there (and under its rlimits) before the
 * command runs; and, once it has ended, what the kernel counted against the caps.
 */
import { Command } from "@autoresearch/core"
import { Effect } from "effect"
import type { Scope } from "effect"
import * as fs from "node:fs"
import {
  bytesPerGb,
  chooseEnforcement,
  type Enforcement,
  enterCgroupArgv,
  formatGb,
  type PhaseCaps,
  phaseRlimits,
  prlimitArgv,
  type Rlimits
} from "./Caps.ts"
import * as Cgroup from "./Cgroup.ts"
import { resolveExecutable } from "./PhaseProcess.ts"
import type { CapsSeen } from "./Triage.ts"

/** util-linux's prlimit, if it is on PATH and can run a command under a limit. */
const findPrlimit = async (): Promise<string | undefined> => {
  if (process.platform !== "linux") return undefined
  const prlimit = resolveExecutable("prlimit", process.env.PATH ?? "/usr/bin:/bin", "/")
  if (prlimit === undefined) return undefined
  const works = await Effect.runPromise(
    Command.run(prlimit, ["--fsize=1000000000", "--", "true"], { timeoutMs: 15_000 }).pipe(
      Effect.map(Command.succeeded),
      Effect.orElseSucceed(() => false)
    )
  )
  return works ? prlimit : undefined
}

/** How this host enforces the caps; phase cgroups that dead runners left behind are removed on the way. */
export const detect = (): Effect.Effect<Enforcement> =>
  Effect.promise(async () => {
    const linux = process.platform === "linux"
    const notLinux = { usable: false as const, problem: `not Linux (${process.platform})` }
    const cgroups = linux ? await Cgroup.probe() : { cgroup2: notLinux, cgroup1: notLinux }
    const enforcement = chooseEnforcement({
      platform: process.platform,
      root: process.getuid?.() === 0,
      ...cgroups,
      prlimit: await findPrlimit()
    })
    await Cgroup.sweep(enforcement)
    return enforcement
  })

/** Tasks (processes and threads) of this user now: RLIMIT_NPROC counts them along with the phase's. */
const userTasks = (): number => {
  const uid = process.getuid?.()
  let count = 0
  let names: Array<string> = []
  try {
    names = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name))
  } catch {
    return 0
  }
  for (const name of names) {
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, "utf8")
      const real = /^Uid:\s+(\d+)/m.exec(status)?.[1]
      if (real !== undefined && Number(real) === uid) count += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1)
    } catch {
      // gone
    }
  }
  return count
}

/** The caps a phase ran under, as triage reads them: the cgroup's counts, or the rlimits that stood in for it. */
export const capsSeen = (input: {
  readonly caps: PhaseCaps
  /** What the phase's cgroup counted; absent without one. */
  readonly counters: Cgroup.Counters | undefined
  /** The rlimits that stood in for a cgroup; absent with one. */
  readonly rlimits: Rlimits | undefined
  readonly fileSizeGb: number | undefined
}): CapsSeen => {
  const { caps, counters, rlimits } = input
  const fileSize = input.fileSizeGb === undefined ? {} : { fileSizeGb: input.fileSizeGb }
  if (counters !== undefined) {
    return {
      memory: {
        capGb: caps.memoryGb,
        enforcedBy: "cgroup",
        ...(counters.oomKills === undefined ? {} : { oomKills: counters.oomKills }),
        ...(counters.memoryLimitHits === undefined ? {} : { limitHits: counters.memoryLimitHits })
      },
      processes: {
        cap: caps.maxProcesses,
        enforcedBy: "cgroup",
        ...(counters.forksRefused === undefined ? {} : { forksRefused: counters.forksRefused })
      },
      ...fileSize
    }
  }
  if (rlimits === undefined) return fileSize
  return {
    ...(rlimits.addressSpace === undefined ? {} : { memory: { capGb: caps.memoryGb, enforcedBy: "address-space" } }),
    ...(rlimits.processes === undefined ? {} : { processes: { cap: caps.maxProcesses, enforcedBy: "rlimit" } }),
    ...fileSize
  }
}

export interface AppliedLimits {
  /** Goes before the phase's argv (before bubblewrap, or before setpriv and the command). */
  readonly argv: ReadonlyArray<string>
  /** The phase's cgroup, while it runs; absent without one. */
  readonly cgroup: Cgroup.PhaseCgroup | undefined
  readonly warnings: ReadonlyArray<string>
  /** The caps in force and, once the phase has ended, what its cgroup counted: for triage. */
  readonly seen: () => CapsSeen
}

/** The limits of one phase until the scope closes, when its cgroup is emptied and removed. */
export const apply = (
  enforcement: Enforcement,
  caps: PhaseCaps,
  phase: { readonly withGpus: boolean; readonly writesElsewhere: boolean }
): Effect.Effect<AppliedLimits, never, Scope.Scope> =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const made = enforcement.method === "cgroup2" || enforcement.method === "cgroup1"
      ? yield* Effect.acquireRelease(
        Effect.sync(() => Cgroup.create(enforcement, { memoryBytes: caps.memoryGb * bytesPerGb, maxProcesses: caps.maxProcesses })),
        (made) => "remove" in made ? Effect.promise(() => made.remove()) : Effect.void
      )
      : undefined
    const cgroup = made !== undefined && "remove" in made ? made : undefined
    const prlimit = enforcement.method === "none" ? undefined : enforcement.prlimit
    // A cgroup that cannot be made for this phase leaves it the rlimits, as on a host without cgroups.
    const method = cgroup !== undefined ? "cgroup" : prlimit !== undefined ? "prlimit" : "none"
    if (made !== undefined && "problem" in made) {
      warnings.push(`WEAKER CAPS: ${made.problem}; ` + (prlimit === undefined
        ? "this phase ran without memory or process caps"
        : "this phase ran under rlimits instead (per-process address space, the user's process count)"))
    }
    if (enforcement.method === "prlimit" || enforcement.method === "none") warnings.push(enforcement.warning)
    const rlimits = phaseRlimits({
      method: method === "prlimit" ? "prlimit" : enforcement.method,
      caps,
      withGpus: phase.withGpus,
      writesElsewhere: phase.writesElsewhere,
      userTasks: method === "prlimit" ? userTasks() : 0
    })
    warnings.push(...rlimits.warnings)
    return {
      argv: [...enterCgroupArgv(cgroup?.procsFiles ?? []), ...prlimitArgv(prlimit, rlimits.limits)],
      cgroup,
      warnings,
      seen: () =>
        capsSeen({
          caps,
          counters: cgroup?.counters(),
          rlimits: method === "prlimit" ? rlimits.limits : undefined,
          fileSizeGb: prlimit === undefined || rlimits.limits.fileSize === undefined ? undefined : caps.runDirGb
        })
    }
  })

/** Warnings for a phase that finished despite its caps: the kernel killed or refused something on the way. */
export const survivedCaps = (phase: string, seen: CapsSeen): Array<string> => {
  const warnings: Array<string> = []
  const { memory, processes } = seen
  if (memory?.oomKills !== undefined && memory.oomKills > 0) {
    warnings.push(
      `${phase} finished, but the out-of-memory killer killed ${memory.oomKills} of its processes at its host ` +
        `memory cap of ${formatGb(memory.capGb)} GB`
    )
  }
  if (processes?.forksRefused !== undefined && processes.forksRefused > 0) {
    warnings.push(
      `${phase} finished, but ${processes.forksRefused} of its forks were refused at its cap of ${processes.cap} ` +
        `processes and threads`
    )
  }
  return warnings
}
