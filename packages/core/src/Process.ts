/**
 * Whether a process is alive, read from Linux's /proc where there is one: a zombie waiting
 * to be reaped is not, and a start time tells a process from a later one given its PID.
 * Elsewhere only `kill(pid, 0)` is known.
 */
import * as fs from "node:fs"
import * as path from "node:path"

/**
 * The fields of a `/proc/<pid>/stat` line after `pid (comm)`: the state is [0], the parent
 * [1], the process group [2], the start time [19]. comm may hold spaces and parentheses,
 * so the fields start after the last `)`.
 */
export const statFields = (text: string): ReadonlyArray<string> | undefined => {
  const close = text.lastIndexOf(")")
  return close === -1 ? undefined : text.slice(close + 2).split(" ")
}

/** The raw `/proc/<pid>/stat` line; undefined when the process is gone or there is no /proc. */
export const readStat = (pid: number): string | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
}

const hasProc = () => fs.existsSync("/proc/self/stat")

/** The process exists and is not a zombie waiting to be reaped. */
export const isAlive = (pid: number): boolean => {
  if (hasProc()) {
    const state = statFields(readStat(pid) ?? "")?.[0]
    return state !== undefined && state !== "Z" && state !== "X"
  }
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** When a process started, in clock ticks since boot; undefined where there is no /proc. */
export const startTime = (pid: number): string | undefined => statFields(readStat(pid) ?? "")?.[19]

/** The executable a command names, resolved as a process with this PATH and working directory would. */
export const resolveExecutable = (name: string, searchPath: string, cwd: string): string | undefined => {
  const executable = (file: string) => {
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return fs.statSync(file).isFile()
    } catch {
      return false
    }
  }
  if (name.includes("/")) {
    const file = path.resolve(cwd, name)
    return executable(file) ? file : undefined
  }
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === "") continue
    const file = path.resolve(cwd, dir, name)
    if (executable(file)) return file
  }
  return undefined
}
