/**
 * Test-only, for chaos.test.ts: loaded into the CLI with `NODE_OPTIONS=--import` and
 * nowhere else; nothing in the CLI refers to it. It changes nothing the CLI does: at the
 * moment that `AUTORESEARCH_CHAOS_STOP` names, it stops the process (SIGSTOP) and notes
 * where, so that the test can SIGKILL the CLI, or its whole process group, right there.
 * Git steps and the journal write last milliseconds, too short to hit by timing alone.
 *
 * AUTORESEARCH_CHAOS_STOP is JSON: { moment, nth, delayMs }, where moment is
 *   prepare | train | predict | score   a phase: `delayMs` after its nth start
 *   git:<subcommand>[:<last argument>]  right after the nth such git starts (`git:reset:!HEAD`: not to HEAD)
 *   journal-torn      in the nth journal.jsonl append, after half of the line is written
 *   journal-unsynced  after the nth journal line is written, before its fsync
 *   results-write     before results.tsv's temporary file is written (the journal line is on disk)
 *   results-rename    before that temporary file is renamed over results.tsv
 * AUTORESEARCH_CHAOS_NOTE names a file that gets one JSON line per stop.
 */
import childProcess from "node:child_process"
import fs from "node:fs"
import { syncBuiltinESMExports } from "node:module"

const spec = process.env.AUTORESEARCH_CHAOS_STOP ? JSON.parse(process.env.AUTORESEARCH_CHAOS_STOP) : undefined
const noteFile = process.env.AUTORESEARCH_CHAOS_NOTE

if (spec !== undefined) {
  let seen = 0
  let stopped = false
  /** True at the nth occurrence of the moment. */
  const hit = () => !stopped && ++seen === spec.nth
  /** What runs now: the children of this process that have not exited yet. */
  const running = new Map()
  const stop = (detail) => {
    stopped = true
    const note = { moment: spec.moment, detail, running: [...running.values()] }
    if (noteFile) fs.appendFileSync(noteFile, JSON.stringify(note) + "\n")
    process.kill(process.pid, "SIGSTOP")
  }

  const phaseOf = (env) => {
    const marker = env?.AUTORESEARCH_RUN_ID
    if (typeof marker !== "string") return undefined
    if (marker.startsWith("trusted-")) return "score"
    return /-(prepare|train|predict|predict-test)-[0-9a-f-]{36}$/.exec(marker)?.[1]
  }

  const spawn = childProcess.spawn
  childProcess.spawn = function(command, args, options) {
    const argv = Array.isArray(args) ? args : []
    const opts = Array.isArray(args) ? options : args
    const child = spawn.apply(this, arguments)
    const phase = phaseOf(opts?.env)
    const what = phase ?? (command === "git" || String(command).endsWith("/git") ? `git ${argv.filter((a) => !a.startsWith("-") && !a.includes("=")).slice(0, 1).join("")}` : String(command))
    const key = {}
    if (child.pid !== undefined) running.set(key, what)
    child.once("exit", () => running.delete(key))
    child.once("error", () => running.delete(key))
    const [kind, subcommand, last] = spec.moment.split(":")
    if (phase !== undefined && phase === spec.moment && hit()) {
      const timer = setTimeout(() => stop(`${spec.delayMs} ms into ${phase}`), spec.delayMs)
      timer.unref?.()
    } else if (kind === "git" && what === `git ${subcommand}`) {
      const lastArg = argv.at(-1)
      const matches = last === undefined || (last.startsWith("!") ? lastArg !== last.slice(1) : lastArg === last)
      if (matches && hit()) stop(`git ${argv.join(" ")}`)
    }
    return child
  }

  // The journal's appends and results.tsv's atomic rewrite (Journal.ts): file descriptors by what they write.
  const files = new Map()
  const openSync = fs.openSync
  fs.openSync = function(file, ...rest) {
    const fd = openSync.call(this, file, ...rest)
    const name = String(file)
    if (name.endsWith("/journal.jsonl")) files.set(fd, "journal")
    else if (/\/results\.tsv\.\d+\.tmp$/.test(name)) files.set(fd, "results")
    else files.delete(fd)
    return fd
  }
  const closeSync = fs.closeSync
  fs.closeSync = function(fd) {
    files.delete(fd)
    return closeSync.call(this, fd)
  }
  const writeSync = fs.writeSync
  fs.writeSync = function(fd, data, ...rest) {
    const file = files.get(fd)
    if (file === "journal" && spec.moment === "journal-torn" && typeof data === "string" && hit()) {
      const half = Math.floor(data.length / 2)
      writeSync.call(this, fd, data.slice(0, half))
      stop(`after ${half} of ${data.length} characters of a journal line`)
      return half + writeSync.call(this, fd, data.slice(half))
    }
    if (file === "results" && spec.moment === "results-write" && hit()) stop("before writing results.tsv's temporary file")
    const written = writeSync.call(this, fd, data, ...rest)
    if (file === "journal" && spec.moment === "journal-unsynced" && hit()) stop("after a journal line was written, before its fsync")
    return written
  }
  const renameSync = fs.renameSync
  fs.renameSync = function(from, to) {
    if (spec.moment === "results-rename" && /\/results\.tsv\.\d+\.tmp$/.test(String(from)) && hit()) {
      stop("before renaming results.tsv's temporary file into place")
    }
    return renameSync.call(this, from, to)
  }
  syncBuiltinESMExports()
}
