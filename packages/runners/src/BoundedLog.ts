/**
 * A phase's log file, bounded however much the phase prints: the first `headBytes` go
 * to the file as they arrive, the last `tailBytes` are held in a fixed ring buffer and
 * appended when the log is closed, and a line between them says how much was dropped.
 * Memory stays at the size of the ring whatever the output. The log lives in a directory
 * the phase can write: whatever the phase planted at its path is removed, never followed
 * or opened, and a log the phase replaced while it ran is put back when it is closed.
 */
import * as fs from "node:fs"

export interface BoundedLogOptions {
  /** Bytes kept from the start of the output (default 1 MiB). */
  readonly headBytes?: number
  /** Bytes kept from the end of the output (default 1 MiB). */
  readonly tailBytes?: number
}

export interface LogSummary {
  readonly path: string
  /** Bytes the phase printed. */
  readonly bytes: number
  /** Bytes left out of the file. */
  readonly dropped: number
  /** Something else was at the log's path when it was closed (the phase removed or replaced it); the log was put back. */
  readonly replaced: boolean
}

const MiB = 1 << 20

/** Removes whatever is at `file` (a symbolic link, a FIFO, a directory) and creates an empty regular file there. */
const createFresh = (file: string, mode: "r+" | "w") => {
  fs.rmSync(file, { recursive: true, force: true })
  const access = mode === "r+" ? fs.constants.O_RDWR : fs.constants.O_WRONLY
  return fs.openSync(file, access | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o644)
}

const sameFile = (a: fs.Stats | undefined, b: fs.Stats) => a !== undefined && a.dev === b.dev && a.ino === b.ino

/** The line the log carries where output was left out. */
export const droppedLine = (dropped: number, head: number, tail: number) =>
  `\n[autoresearch: ${dropped} bytes of output dropped here; the log keeps the first ${head} and the last ${tail} bytes]\n`

/** The last `count` lines of `text` (a final newline ends the last line; it does not start another). */
export const tailLines = (text: string, count: number) =>
  text.split("\n").slice(-count - (text.endsWith("\n") ? 1 : 0)).join("\n")

export class BoundedLog {
  readonly path: string
  private readonly fd: number
  private readonly created: fs.Stats
  private readonly headBytes: number
  private readonly ring: Buffer
  /** Bytes that went through the ring; it holds the last min(ringTotal, its size) of them. */
  private ringTotal = 0
  /** Bytes of the head written to the file. */
  private written = 0
  private total = 0
  private closed: LogSummary | undefined

  constructor(file: string, options: BoundedLogOptions = {}) {
    this.path = file
    this.headBytes = options.headBytes ?? MiB
    this.ring = Buffer.alloc(Math.max(1, options.tailBytes ?? MiB))
    this.fd = createFresh(file, "r+")
    this.created = fs.fstatSync(this.fd)
  }

  write(chunk: Buffer): void {
    if (this.closed !== undefined) return
    this.total += chunk.length
    const toHead = Math.min(chunk.length, this.headBytes - this.written)
    if (toHead > 0) {
      fs.writeSync(this.fd, chunk, 0, toHead)
      this.written += toHead
    }
    this.toRing(chunk)
  }

  /** The last `count` lines printed, from memory (up to the ring's size). */
  lastLines(count = 40): string {
    return tailLines(this.ringText().toString("utf8"), count)
  }

  /** Appends the kept tail and the dropped-bytes line, and closes the file; safe to call twice. */
  close(): LogSummary {
    if (this.closed !== undefined) return this.closed
    const after = this.total - this.written
    const ring = this.ringText()
    let tail = ring.subarray(ring.length - Math.min(after, ring.length))
    let dropped = after - tail.length
    if (dropped > 0) {
      // Start the kept tail at a line boundary, so that it reads cleanly.
      const newline = tail.indexOf(0x0a)
      if (newline !== -1 && newline < tail.length - 1) {
        tail = tail.subarray(newline + 1)
        dropped += newline + 1
      }
      fs.writeSync(this.fd, droppedLine(dropped, this.written, tail.length))
    }
    if (tail.length > 0) fs.writeSync(this.fd, tail)
    const replaced = !this.stillAtPath()
    if (replaced) this.putBack()
    fs.closeSync(this.fd)
    this.closed = { path: this.path, bytes: this.total, dropped: Math.max(0, dropped), replaced }
    return this.closed
  }

  private stillAtPath() {
    try {
      return sameFile(fs.lstatSync(this.path), this.created)
    } catch {
      return false
    }
  }

  /** Writes what the log's own file holds (the kept head and tail, at most their sizes) to a fresh file at its path. */
  private putBack() {
    // Bounded by what this log writes, whatever else was appended to its file.
    const limit = this.headBytes + this.ring.length + 1024
    const contents = Buffer.alloc(Math.min(fs.fstatSync(this.fd).size, limit))
    const length = fs.readSync(this.fd, contents, 0, contents.length, 0)
    try {
      const fresh = createFresh(this.path, "w")
      try {
        fs.writeSync(fresh, contents, 0, length)
      } finally {
        fs.closeSync(fresh)
      }
    } catch {
      // the run directory itself is gone or unwritable: nothing to put the log back into
    }
  }

  private toRing(chunk: Buffer) {
    const size = this.ring.length
    const data = chunk.length > size ? chunk.subarray(chunk.length - size) : chunk
    this.ringTotal += chunk.length - data.length
    const offset = this.ringTotal % size
    const first = Math.min(data.length, size - offset)
    data.copy(this.ring, offset, 0, first)
    if (first < data.length) data.copy(this.ring, 0, first)
    this.ringTotal += data.length
  }

  /** The bytes that went to the ring, oldest first (at most its size). */
  private ringText(): Buffer {
    const size = this.ring.length
    if (this.ringTotal <= size) return Buffer.from(this.ring.subarray(0, this.ringTotal))
    const start = this.ringTotal % size
    return Buffer.concat([this.ring.subarray(start), this.ring.subarray(0, start)])
  }
}
