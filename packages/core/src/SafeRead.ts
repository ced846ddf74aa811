/**
 * Reading, from the host, a file that an experiment could have written: whatever it
 * planted at that path, the read neither blocks (a FIFO opened without O_NONBLOCK waits
 * forever for a writer), follows a symbolic link out of the run directory, nor reads
 * more than it was told to. Anything but a regular file is refused, with the reason.
 * `follow` allows a link for paths the harness or the user chose; never a FIFO.
 */
import * as fs from "node:fs"

export type RegularFileRead =
  | { readonly _tag: "Text"; readonly text: string; readonly size: number; readonly truncated: boolean }
  | { readonly _tag: "Missing" }
  | Refusal

export type RegularBytesRead =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array; readonly size: number; readonly truncated: boolean }
  | { readonly _tag: "Missing" }
  | Refusal

/** Why a path was not read: `reason` names the file, `problem` does not. */
export interface Refusal {
  readonly _tag: "Refused"
  readonly reason: string
  readonly problem: string
}

const refused = (file: string, problem: string): Refusal => ({ _tag: "Refused", reason: `${file} ${problem}`, problem })
const notRegular = (file: string, stats: fs.Stats): Refusal => ({
  _tag: "Refused",
  reason: `${file} is ${kindOf(stats)}, not a regular file`,
  problem: `not a regular file (${kindOf(stats)})`
})

/** What a path holds, in words, for a refusal: `a FIFO`, `a symbolic link`, ... */
export const kindOf = (stats: fs.Stats): string =>
  stats.isFile()
    ? "a regular file"
    : stats.isSymbolicLink()
    ? "a symbolic link"
    : stats.isFIFO()
    ? "a FIFO"
    : stats.isDirectory()
    ? "a directory"
    : stats.isSocket()
    ? "a socket"
    : stats.isCharacterDevice() || stats.isBlockDevice()
    ? "a device"
    : "not a regular file"

/** lstat, or undefined when nothing is there. */
export const lstat = (file: string): fs.Stats | undefined => {
  try {
    return fs.lstatSync(file)
  } catch {
    return undefined
  }
}

/** Flags that make open not wait on a FIFO, nor (unless told to) follow a final symbolic link; 0 where the platform lacks them. */
const openFlags = (follow: boolean) =>
  fs.constants.O_RDONLY | (follow ? 0 : fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

const stat = (file: string): fs.Stats | undefined => {
  try {
    return fs.statSync(file)
  } catch {
    return undefined
  }
}

export interface OpenOptions {
  /**
   * Follow a symbolic link to the file it names (for paths the harness or the user chose,
   * such as the data cache that prepare built); what it names must still be a regular file.
   */
  readonly follow?: boolean
}

export type RegularOpen =
  | { readonly _tag: "Opened"; readonly fd: number; readonly stats: fs.Stats }
  | { readonly _tag: "Missing" }
  | Refusal

/**
 * Opens a regular file for reading, or says why not; anything else at `file` is refused,
 * never opened as it is. The caller closes an opened `fd`.
 */
export const openRegular = (file: string, options: OpenOptions = {}): RegularOpen => {
  const follow = options.follow === true
  const before = follow ? stat(file) : lstat(file)
  if (before === undefined) return { _tag: "Missing" }
  if (!before.isFile()) return notRegular(file, before)
  let fd: number
  try {
    fd = fs.openSync(file, openFlags(follow))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return { _tag: "Missing" }
    // ELOOP: it was swapped for a symbolic link after the lstat
    return refused(file, `could not be opened safely (${code ?? String(error)})`)
  }
  try {
    // Swapped for a FIFO or a device between the lstat and the open.
    const stats = fs.fstatSync(fd)
    if (stats.isFile()) return { _tag: "Opened", fd, stats }
    fs.closeSync(fd)
    return notRegular(file, stats)
  } catch (error) {
    fs.closeSync(fd)
    return refused(file, `could not be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  }
}

/**
 * Up to `maxBytes` of a regular file's bytes (its last bytes with `fromEnd`); anything
 * else at `file` is refused, never opened as it is.
 */
export const readRegularBytes = (
  file: string,
  maxBytes = Number.POSITIVE_INFINITY,
  options: { readonly fromEnd?: boolean } & OpenOptions = {}
): RegularBytesRead => {
  const opened = openRegular(file, options)
  if (opened._tag !== "Opened") return opened
  const { fd, stats } = opened
  try {
    const buffer = Buffer.alloc(Math.max(0, Math.min(stats.size, maxBytes)))
    const start = options.fromEnd === true ? stats.size - buffer.length : 0
    let filled = 0
    while (filled < buffer.length) {
      const read = fs.readSync(fd, buffer, filled, buffer.length - filled, start + filled)
      if (read === 0) break
      filled += read
    }
    return { _tag: "Bytes", bytes: buffer.subarray(0, filled), size: stats.size, truncated: stats.size > maxBytes }
  } catch (error) {
    return refused(file, `could not be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  } finally {
    fs.closeSync(fd)
  }
}

/** Up to `maxBytes` of a regular file as UTF-8 (its last bytes with `fromEnd`), as `readRegularBytes` reads them. */
export const readRegularFile = (file: string, maxBytes: number, options: { readonly fromEnd?: boolean } = {}): RegularFileRead => {
  const read = readRegularBytes(file, maxBytes, options)
  return read._tag === "Bytes"
    ? { _tag: "Text", text: Buffer.from(read.bytes).toString("utf8"), size: read.size, truncated: read.truncated }
    : read
}
