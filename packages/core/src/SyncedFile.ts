/**
 * Writes that are on disk when they return: the journal's lines, the copies of what it
 * dropped, results.tsv and the seal.
 */
import * as fs from "node:fs"

/** Opens `file` with `flags` ("a" appends, "wx" creates, "w" truncates), writes `data` and flushes it. */
export const writeSynced = (file: string, data: string | Uint8Array, flags: string) => {
  const fd = fs.openSync(file, flags)
  try {
    if (typeof data === "string") fs.writeSync(fd, data)
    else fs.writeSync(fd, data)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Replaces `file` through `<file>.<pid>.tmp`, flushed then renamed: a reader sees the old content or the new, never half. */
export const replaceSynced = (file: string, content: string) => {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeSynced(temporary, content, "w")
    fs.renameSync(temporary, file)
  } catch (error) {
    fs.rmSync(temporary, { force: true })
    throw error
  }
}
