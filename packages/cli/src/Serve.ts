/**
 * `autoresearch serve`: the report's page, live. It reads the run's files only (the journal,
 * `live.json`, the run's logs), so it works from a second process while `run` goes, and
 * carries on across a run killed and resumed. It is read-only (GET and HEAD, nothing else),
 * binds to 127.0.0.1 unless asked otherwise, and serves nothing but the page, its data, a
 * stream of changes (server-sent events) and the experiments' phase logs, each checked to
 * be a regular file inside the run's own `runs/` folder. The data cache (hidden targets
 * included) and the environment are never read.
 */
import { LiveStatus, lstat, type MetricSpec, readRegularFile, type Research } from "@autoresearch/core"
import { Effect } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { collect, page } from "./Report.ts"

export interface ServeOptions {
  readonly where: Research.ResearchPaths
  readonly tag: string
  readonly metric: Pick<MetricSpec, "name" | "direction" | "secondary">
  /** Default 127.0.0.1; another address exposes the page (and the run's logs) to that network. */
  readonly host?: string
  /** Default 8377; 0 picks a free port. */
  readonly port?: number
  /** How often the files are looked at for changes, in ms (default 250). */
  readonly pollMs?: number
}

export interface Served {
  readonly url: string
  readonly server: http.Server
}

const LOG_BYTES = 1024 * 1024

/**
 * The log a request path names, `/runs/<id>/<name>.log`, as an absolute path inside the
 * runs folder; undefined for anything else. Decoding happens once, before the check, so
 * an encoded `..` or separator is refused like a plain one.
 */
export const logPath = (runsDir: string, requestPath: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(requestPath)
  } catch {
    return undefined
  }
  const match = /^\/runs\/(\d{1,9})\/([A-Za-z0-9_-][A-Za-z0-9._-]{0,99}\.log)$/.exec(decoded)
  if (match === null || match[2]!.includes("..")) return undefined
  return path.join(runsDir, match[1]!, match[2]!)
}

/** The file, if it is a regular one whose every directory below `root` is a real directory (no link anywhere on the way). */
const insideWithoutLinks = (root: string, file: string) => {
  const relative = path.relative(root, file)
  if (relative.startsWith("..") || path.isAbsolute(relative)) return false
  let current = root
  for (const part of relative.split(path.sep).slice(0, -1)) {
    current = path.join(current, part)
    const stats = lstat(current)
    if (stats === undefined || !stats.isDirectory()) return false
  }
  return true
}

/** A change stamp of a file: its size and modification time, or "" when missing. */
const stamp = (file: string) => {
  const stats = lstat(file)
  return stats === undefined ? "" : `${stats.size}:${stats.mtimeMs}`
}

export const serve = (options: ServeOptions) =>
  Effect.acquireRelease(
    Effect.callback<Served, Error>((resume) => {
      const { where } = options
      const journal = path.join(where.stateDir, "journal.jsonl")
      const liveFile = LiveStatus.file(where.stateDir)
      const clients = new Set<http.ServerResponse>()
      let cached: { readonly stamp: string; readonly body: string } | undefined
      // The page holds no data (it fetches data.json), so it is built once.
      const livePage = page(undefined, { live: true, title: `autoresearch: ${where.branch}` })

      const data = async () => {
        const now = stamp(journal)
        if (cached?.stamp === now) return cached.body
        const report = await Effect.runPromise(collect(where, { tag: options.tag, metric: options.metric }))
        cached = { stamp: now, body: JSON.stringify(report) }
        return cached.body
      }
      const liveBody = () => JSON.stringify(LiveStatus.read(where.stateDir) ?? { phase: null, running: false })

      const send = (response: http.ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean) => {
        response.writeHead(status, {
          "content-type": type,
          "cache-control": "no-store",
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer"
        })
        response.end(head ? undefined : body)
      }

      const server = http.createServer((request, response) => {
        const head = request.method === "HEAD"
        if (request.method !== "GET" && !head) {
          response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" })
          response.end("read-only: GET and HEAD only\n")
          return
        }
        const url = new URL(request.url ?? "/", "http://localhost")
        const route = url.pathname
        if (route === "/" || route === "/index.html") {
          send(response, 200, "text/html; charset=utf-8", livePage, head)
        } else if (route === "/data.json") {
          data().then(
            (body) => send(response, 200, "application/json", body, head),
            (error) => send(response, 500, "text/plain; charset=utf-8", `cannot read the run: ${String(error)}\n`, head)
          )
        } else if (route === "/live.json") {
          send(response, 200, "application/json", liveBody(), head)
        } else if (route === "/events") {
          response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" })
          response.write(`retry: 1000\nevent: progress\ndata: ${liveBody()}\n\n`)
          clients.add(response)
          request.on("close", () => clients.delete(response))
        } else {
          const file = logPath(where.runsDir, route)
          if (file === undefined || !insideWithoutLinks(where.runsDir, file)) {
            send(response, 404, "text/plain; charset=utf-8", "not found\n", head)
            return
          }
          const read = readRegularFile(file, LOG_BYTES, { fromEnd: true })
          if (read._tag === "Text") send(response, 200, "text/plain; charset=utf-8", read.text, head)
          else send(response, 404, "text/plain; charset=utf-8", "not found\n", head)
        }
      })

      // Changes: the journal (an experiment finished), live.json (a phase began or ended) and
      // the lock (a run started, ended or was killed: the lock stays, but its holder is gone).
      const lock = path.join(where.stateDir, "lock")
      const state = () => ({ journal: stamp(journal), live: stamp(liveFile) + (LiveStatus.read(where.stateDir)?.running ? "+" : "-") + stamp(lock) })
      let seen = state()
      const poll = setInterval(() => {
        if (clients.size === 0) return // nobody to tell; a new client is sent the live status on connecting
        const now = state()
        const events = [
          ...(now.journal !== seen.journal ? [`event: journal\ndata: {}\n\n`] : []),
          ...(now.live !== seen.live ? [`event: progress\ndata: ${liveBody()}\n\n`] : [])
        ]
        seen = now
        for (const client of clients) for (const event of events) client.write(event)
      }, options.pollMs ?? 250)
      const heartbeat = setInterval(() => {
        for (const client of clients) client.write(": still here\n\n")
      }, 15_000)
      server.on("close", () => {
        clearInterval(poll)
        clearInterval(heartbeat)
      })
      const closeClients = () => {
        for (const client of clients) client.end()
        clients.clear()
      }
      server.once("error", (error) => {
        clearInterval(poll)
        clearInterval(heartbeat)
        resume(Effect.fail(error))
      })
      server.listen(options.port ?? 8377, options.host ?? "127.0.0.1", () => {
        const address = server.address() as AddressInfo
        const host = address.family === "IPv6" ? `[${address.address}]` : address.address
        ;(server as http.Server & { closeClients?: () => void }).closeClients = closeClients
        resume(Effect.succeed({ url: `http://${host}:${address.port}/`, server }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        ;(server as http.Server & { closeClients?: () => void }).closeClients?.()
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
  )
