/**
 * Git's own lock files (`index.lock`, `HEAD.lock`, `<ref>.lock`) left behind by a git
 * that was killed (the CLI's process group SIGKILLed mid-commit, a power loss): git
 * refuses to work while one exists. A research run owns its worktree and its refs, so
 * on start, with the run's lock held, it removes those of its locks that no live process
 * holds. The user's own locks (the main checkout's index, `packed-refs`) are never touched.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"

/** Where a research run's git state lives. */
export interface GitPlaces {
  /** The repository's common git directory (`.git`), absolute. */
  readonly commonDir: string
  /** The worktree's own git directories (`.git/worktrees/<name>`): one, or none while it is missing. */
  readonly worktreeGitDirs: ReadonlyArray<string>
  readonly worktree: string
  /** `autoresearch/<tag>`. */
  readonly branch: string
  /** `refs/autoresearch/<tag>`. */
  readonly refPrefix: string
}

/** A live process, as far as a lock is concerned. */
export interface LockHolder {
  readonly comm: string
  readonly cwd: string | undefined
  /** The files it has open. */
  readonly open: ReadonlyArray<string>
}

const within = (file: string, dir: string) => file === dir || file.startsWith(dir + path.sep)

/** The lock files of the run that exist now. */
export const lockFiles = (places: GitPlaces): Array<string> => {
  const files = [
    ...places.worktreeGitDirs.flatMap((dir) => ["index.lock", "HEAD.lock", "ORIG_HEAD.lock"].map((name) => path.join(dir, name))),
    path.join(places.commonDir, "refs", "heads", `${places.branch}.lock`)
  ].filter((file) => fs.existsSync(file))
  const walk = (dir: string) => {
    let names: Array<fs.Dirent>
    try {
      names = fs.readdirSync(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const entry of names) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(full)
      else if (entry.name.endsWith(".lock")) files.push(full)
    }
  }
  walk(path.join(places.commonDir, places.refPrefix))
  return files
}

/** A git runs in the worktree: one whose parent alone was killed may still be finishing, and may hold a lock it has closed. */
export const gitAtWork = (processes: ReadonlyArray<LockHolder>, places: Pick<GitPlaces, "worktree" | "worktreeGitDirs">): boolean =>
  processes.some((process) => {
    const cwd = process.cwd
    return process.comm === "git" && cwd !== undefined && [places.worktree, ...places.worktreeGitDirs].some((dir) => within(cwd, dir))
  })

/** The locks no live process holds: none while a git works in the worktree, else those no process has open. */
export const staleLocks = (
  locks: ReadonlyArray<string>,
  processes: ReadonlyArray<LockHolder>,
  places: Pick<GitPlaces, "worktree" | "worktreeGitDirs">
): Array<string> => {
  if (gitAtWork(processes, places)) return []
  const open = new Set(processes.flatMap((process) => process.open))
  return locks.filter((lock) => !open.has(lock))
}

const readlink = (file: string) => {
  try {
    return fs.readlinkSync(file)
  } catch {
    return undefined
  }
}

/** Live processes from /proc (those this user may look at): their names, working directories and open files. */
export const liveProcesses = (): Array<LockHolder> => {
  let pids: Array<string>
  try {
    pids = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
  } catch {
    return []
  }
  return pids.flatMap((pid) => {
    let comm: string
    try {
      comm = fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()
    } catch {
      return []
    }
    let fds: Array<string> = []
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`)
    } catch {
      // not ours to look at
    }
    const open = fds.flatMap((fd) => readlink(`/proc/${pid}/fd/${fd}`) ?? [])
    return [{ comm, cwd: readlink(`/proc/${pid}/cwd`), open }]
  })
}

/**
 * Removes the run's stale git locks and returns them. A git still at work in the
 * worktree (its parent killed alone) is given `waitMs` to finish first.
 */
export const clearStale = (places: GitPlaces, waitMs = 10_000) =>
  Effect.gen(function*() {
    if (lockFiles(places).length === 0) return []
    const deadline = Date.now() + waitMs
    let processes = liveProcesses()
    while (gitAtWork(processes, places) && Date.now() < deadline) {
      yield* Effect.sleep("100 millis")
      processes = liveProcesses()
    }
    const stale = staleLocks(lockFiles(places), processes, places)
    for (const lock of stale) fs.rmSync(lock, { force: true })
    return stale
  })
