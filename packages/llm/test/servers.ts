/**
 * Test fixtures: scripted HTTP servers on 127.0.0.1 that speak the Anthropic Messages and
 * OpenAI Chat Completions wire formats, so that the proposers are tested through the
 * real SDKs; and a research context over a copy of examples/toy with the loop's own check.
 */
import { makeWorkspace, type ResearchContext } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const toyDir = path.resolve(import.meta.dirname, "../../../examples/toy")

export interface Received {
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: any
  /** Whether the client went away before the answer was complete (an aborted request). */
  aborted: boolean
}

export interface Answer {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly json?: unknown
  /** A body sent as it is, with `content-type: application/json`. */
  readonly raw?: string
  readonly delayMs?: number
  /** Never answer. */
  readonly hang?: boolean
}

export type Script = (request: Received, index: number) => Answer

export interface Server {
  readonly url: string
  readonly received: Array<Received>
}

/** A server answering each request by `script` (or the answers in order, the last repeated). */
export const serve = (script: Script | ReadonlyArray<Answer>) =>
  Effect.acquireRelease(
    Effect.callback<{ server: http.Server; state: Server }>((resume) => {
      const received: Array<Received> = []
      const answer: Script = typeof script === "function" ? script : (_, index) => script[Math.min(index, script.length - 1)]!
      const server = http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          const request: Received = { path: req.url ?? "", headers: req.headers, body: text === "" ? undefined : JSON.parse(text), aborted: false }
          const index = received.length
          received.push(request)
          res.on("close", () => {
            if (!res.writableFinished) request.aborted = true
          })
          const reply = answer(request, index)
          if (reply.hang) return
          setTimeout(() => {
            res.writeHead(reply.status ?? 200, { "content-type": "application/json", ...reply.headers })
            res.end(reply.raw ?? JSON.stringify(reply.json ?? {}))
          }, reply.delayMs ?? 0)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, state: { url: `http://127.0.0.1:${port}`, received } }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ state }) => state))

export interface TokenCounts {
  readonly input: number
  readonly output: number
  readonly cacheRead?: number
  readonly cacheWrite?: number
}

/** Anthropic Messages API bodies. */
export const anthropic = {
  message: (content: ReadonlyArray<unknown>, stop: string, usage: TokenCounts) => ({
    id: "msg_test",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input,
      output_tokens: usage.output,
      cache_read_input_tokens: usage.cacheRead ?? 0,
      cache_creation_input_tokens: usage.cacheWrite ?? 0
    }
  }),
  toolUse: (input: unknown, usage: TokenCounts = { input: 100, output: 50 }, id = "toolu_1") =>
    anthropic.message([{ type: "tool_use", id, name: "propose_experiment", input }], "tool_use", usage),
  text: (text: string, usage: TokenCounts = { input: 100, output: 20 }) =>
    anthropic.message([{ type: "text", text }], "end_turn", usage),
  error: (type: string, message: string) => ({ type: "error", error: { type, message } })
}

/** OpenAI Chat Completions bodies. */
export const openai = {
  completion: (message: Record<string, unknown>, finish: string, usage: TokenCounts) => ({
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-test",
    choices: [{ index: 0, message: { role: "assistant", content: null, ...message }, finish_reason: finish }],
    usage: {
      prompt_tokens: usage.input + (usage.cacheRead ?? 0),
      completion_tokens: usage.output,
      total_tokens: usage.input + (usage.cacheRead ?? 0) + usage.output,
      prompt_tokens_details: { cached_tokens: usage.cacheRead ?? 0 }
    }
  }),
  toolUse: (input: unknown, usage: TokenCounts = { input: 100, output: 50 }, id = "call_1") =>
    openai.completion({
      tool_calls: [{
        id,
        type: "function",
        function: { name: "propose_experiment", arguments: typeof input === "string" ? input : JSON.stringify(input) }
      }]
    }, "tool_calls", usage),
  text: (text: string, usage: TokenCounts = { input: 100, output: 20 }) => openai.completion({ content: text }, "stop", usage),
  error: (type: string, message: string) => ({ error: { message, type, param: null, code: null } })
}

/** A research context over a fresh copy of the toy directory, checked by the loop's own Workspace. */
export const toyContext = (overrides: Partial<ResearchContext> = {}): ResearchContext => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-llm-"))
  for (const file of ["train.py", "prepare.py", "program.md"]) fs.copyFileSync(path.join(toyDir, file), path.join(dir, file))
  const workspace = makeWorkspace(dir, {
    mutable: ["train.py"],
    immutable: ["prepare.py", "program.md"],
    program: "program.md",
    python: ["python3"],
    syntaxCheck: "python"
  })
  return {
    program: fs.readFileSync(path.join(dir, "program.md"), "utf8"),
    files: [{ path: "train.py", content: fs.readFileSync(path.join(dir, "train.py"), "utf8") }],
    journal: [],
    metric: { name: "val_mse", direction: "min", minDelta: 0.0001 },
    lastFailure: undefined,
    left: { experiments: 10 },
    check: (edits) => Effect.asVoid(workspace.check(edits)),
    ...overrides
  }
}

/** A valid proposal for the toy's train.py. */
export const goodInput = {
  description: "degree 5",
  hypothesis: "a higher degree fits the curve better",
  edits: [{ path: "train.py", search: "DEGREE = 3 ", replace: "DEGREE = 5 " }]
}
