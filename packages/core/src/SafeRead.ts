/**
 * Reading, from the host, a file that an experiment could have written: whatever it
 * planted at that path, the read neither blocks (a FIFO opened without O_NONBLOCK waits
 * forever for a writer), follows a symbolic link out of the run directory, nor reads
 * more than it was told to. Anything but a regular file is refused, with the reason.
 */
import * as fs from "node:fs"

export type RegularFileRead =
  | { readonly _tag: "Text"; readonly text: string; readonly size: number; readonly truncated: boolean }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Refused"; readonly reason: string }

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

/** Flags that make open neither follow a final symbolic link nor wait on a FIFO (0 where the platform lacks them). */
const safeOpenFlags = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

/**
 * Up to `maxBytes` of a regular file's bytes as UTF-8 (its last bytes with `fromEnd`);
 * anything else at `file` is refused, never opened as it is.
 */
export const readRegularFile = (file: string, maxBytes: number, options: { readonly fromEnd?: boolean } = {}): RegularFileRead => {
  const before = lstat(file)
  if (before === undefined) return { _tag: "Missing" }
  if (!before.isFile()) return { _tag: "Refused", reason: `${file} is ${kindOf(before)}, not a regular file` }
  let fd: number
  try {
    fd = fs.openSync(file, safeOpenFlags)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return { _tag: "Missing" }
    // ELOOP: it was swapped for a symbolic link after the lstat
    return { _tag: "Refused", reason: `${file} could not be opened safely (${code ?? String(error)})` }
  }
  try {
    // Swapped for a FIFO or a device between the lstat and the open.
    const opened = fs.fstatSync(fd)
    if (!opened.isFile()) return { _tag: "Refused", reason: `${file} is ${kindOf(opened)}, not a regular file` }
    const buffer = Buffer.alloc(Math.max(0, Math.min(opened.size, maxBytes)))
    const start = options.fromEnd === true ? opened.size - buffer.length : 0
    let filled = 0
    while (filled < buffer.length) {
      const read = fs.readSync(fd, buffer, filled, buffer.length - filled, start + filled)
      if (read === 0) break
      filled += read
    }
    return { _tag: "Text", text: buffer.subarray(0, filled).toString("utf8"), size: opened.size, truncated: opened.size > maxBytes }
  } catch (error) {
    return { _tag: "Refused", reason: `${file} could not be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }
  } finally {
    fs.closeSync(fd)
  }
}
