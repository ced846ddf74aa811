/**
 * Processes that outlive the harness that started them. A SIGKILLed CLI takes no
 * unsandboxed phase or trusted command (the scorer) with it: each runs in a process group
 * of its own, and clean-up needs a live parent; a resumed run would race it. So each is
 * recorded, before it starts, in a small file beside the run directories, and the next
 * runner, scorer or opening of the run kills what a dead process recorded there, and
 * removes its scratch directory. Where util-linux's `setpriv` works, the first process
 * also gets SIGKILL the moment its parent dies.
 */
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Command from "./Command.ts"
import { resolveExecutable } from "./Process.ts"
import * as ProcessTree from "./ProcessTree.ts"
import { readRegularFile } from "./SafeRead.ts"

/** What a runner writes down about a phase before starting it. */
export interface RunningPhase {
  /** The runner: its PID, and when it started, so that a later process with the same PID is not taken for it. */
  readonly owner: { readonly pid: number; readonly start: string | undefined }
  /** The variable and value in the environment of every process of the phase. */
  readonly variable: string
  readonly value: string
  /** The phase's process group, once it is spawned. */
  readonly processGroup?: number
  /** The directory that holds an unsandboxed phase's HOME and TMPDIR, removed with the phase. */
  readonly scratch?: string
}

const recordPrefix = ".running-"

/** A phase's scratch directory is one the runner made in the system's temporary directory, and nothing else is removed. */
export const scratchPrefix = "autoresearch-"
const isScratch = (dir: unknown) =>
  typeof dir === "string" && path.isAbsolute(dir) && path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith(scratchPrefix)

/** The record's text, if it is one: anything else is not acted on, and a scratch directory that is not the runner's is dropped. */
export const parseRecord = (text: string): RunningPhase | undefined => {
  try {
    const value = JSON.parse(text) as Partial<RunningPhase> | null
    const owner = value?.owner
    const valid = typeof owner?.pid === "number" && Number.isInteger(owner.pid) && owner.pid > 0 &&
      (owner.start === undefined || typeof owner.start === "string") &&
      typeof value?.variable === "string" && /^[A-Z_][A-Z0-9_]*$/.test(value.variable) &&
      typeof value.value === "string" && value.value.length >= 16 &&
      (value.processGroup === undefined || (Number.isInteger(value.processGroup) && value.processGroup > 1))
    if (!valid) return undefined
    const { scratch, ...entry } = value as RunningPhase
    return isScratch(scratch) ? { ...entry, scratch: scratch! } : entry
  } catch {
    return undefined
  }
}

/**
 * Records a phase about to start in `runsDir`; `started` adds its process group once it
 * is spawned, `remove` forgets it once every process of the phase is gone.
 */
export const record = (
  runsDir: string,
  marker: { readonly variable: string; readonly value: string },
  scratch: string | undefined
) => {
  const file = path.join(runsDir, `${recordPrefix}${crypto.randomUUID()}.json`)
  const owner = { pid: process.pid, start: ProcessTree.startTime(process.pid) }
  const write = (processGroup: number | undefined) => {
    try {
      fs.writeFileSync(file, JSON.stringify({ owner, ...marker, processGroup, scratch } satisfies RunningPhase))
    } catch {
      // no record where the runs directory cannot be written; the phase still runs
    }
  }
  write(undefined)
  return {
    file,
    started: (pid: number | undefined) => write(pid),
    remove: () => {
      try {
        fs.rmSync(file, { force: true })
      } catch {
        // left for the next runner, which finds this one alive or its phase gone
      }
    }
  }
}

const ownerAlive = (owner: RunningPhase["owner"]) =>
  ProcessTree.isAlive(owner.pid) && (owner.start === undefined || ProcessTree.startTime(owner.pid) === owner.start)

/** The recorded phase's live processes: those with its marker and their descendants, and its process group while one of them is in it. */
const survivors = (entry: RunningPhase) => {
  const marked = ProcessTree.markedMembers({ variable: entry.variable, value: entry.value, processGroup: undefined })
  // A group number is reused only once the group is empty; one marked member in it proves it is still the phase's.
  const group = entry.processGroup !== undefined && ProcessTree.processGroups(marked).has(entry.processGroup)
    ? entry.processGroup
    : undefined
  return group === undefined ? { marked, group } : {
    marked: ProcessTree.markedMembers({ variable: entry.variable, value: entry.value, processGroup: group }),
    group
  }
}

/**
 * Kills every process of the phases recorded in `runsDir` by runners that are no longer
 * alive, and forgets those records; returns the PIDs it killed.
 */
export const sweepOrphans = async (runsDir: string): Promise<ReadonlyArray<number>> => {
  let names: Array<string>
  try {
    names = fs.readdirSync(runsDir).filter((name) => name.startsWith(recordPrefix) && name.endsWith(".json"))
  } catch {
    return []
  }
  const killed = new Set<number>()
  for (const name of names) {
    const file = path.join(runsDir, name)
    const read = readRegularFile(file, 4096)
    const entry = read._tag === "Text" ? parseRecord(read.text) : undefined
    if (entry !== undefined && ownerAlive(entry.owner)) continue
    for (let round = 0; entry !== undefined && round < 50; round++) {
      const { group, marked } = survivors(entry)
      if (marked.length === 0) break
      ProcessTree.signalGroup(group, "SIGKILL")
      ProcessTree.signal(marked, "SIGKILL")
      for (const pid of marked) killed.add(pid)
      await new Promise((resolve) => setTimeout(resolve, round < 10 ? 10 : 50))
    }
    if (entry?.scratch !== undefined) fs.rmSync(entry.scratch, { recursive: true, force: true })
    fs.rmSync(file, { force: true })
  }
  return [...killed]
}

/**
 * The argv prefix that makes a phase's first process die with the runner
 * (`setpriv --pdeathsig KILL --`), or nothing where setpriv is missing or cannot.
 */
export const parentDeathPrefix = (): Effect.Effect<ReadonlyArray<string>> =>
  Effect.gen(function*() {
    if (process.platform !== "linux") return []
    const setpriv = resolveExecutable("setpriv", process.env.PATH ?? "/usr/bin:/bin", "/")
    if (setpriv === undefined) return []
    const prefix = [setpriv, "--pdeathsig", "KILL", "--"]
    const works = yield* Command.run(setpriv, [...prefix.slice(1), "true"], { timeoutMs: 15_000 }).pipe(
      Effect.map(Command.succeeded),
      Effect.orElseSucceed(() => false)
    )
    return works ? prefix : []
  })
