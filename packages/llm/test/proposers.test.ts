import { it } from "@effect/vitest"
import { ProposerError, type ResearchContext } from "@autoresearch/core"
import { Effect, Fiber } from "effect"
import { describe, expect } from "vitest"
import * as ClaudeProposer from "../src/ClaudeProposer.ts"
import type { ModelOptions } from "../src/Dialogue.ts"
import * as OpenAIProposer from "../src/OpenAIProposer.ts"
import { anthropic, type Answer, goodInput, openai, serve, type Server, type TokenCounts, toyContext } from "./servers.ts"

/** What differs between the two wire formats, so that each case runs against both. */
interface Wire {
  readonly name: "claude" | "openai"
  readonly make: typeof ClaudeProposer.make
  readonly model: string
  readonly baseURL: (server: Server) => string
  readonly keyVariable: string
  readonly toolUse: (input: unknown, usage?: TokenCounts) => unknown
  readonly text: (text: string) => unknown
  readonly error: (type: string, message: string) => unknown
  /** The tool results and notes the proposer sent back in a request, as text. */
  readonly feedback: (body: any) => Array<string>
  readonly overloaded: Answer
}

const claudeWire: Wire = {
  name: "claude",
  make: ClaudeProposer.make,
  model: "claude-sonnet-4-6",
  baseURL: (server) => server.url,
  keyVariable: "ANTHROPIC_API_KEY",
  toolUse: anthropic.toolUse,
  text: anthropic.text,
  error: anthropic.error,
  feedback: (body) => {
    const last = body.messages.at(-1)
    return last.role === "user" && Array.isArray(last.content) && body.messages.length > 1
      ? last.content.map((block: any) => (block.type === "tool_result" ? block.content : block.text))
      : []
  },
  overloaded: { status: 529, json: anthropic.error("overloaded_error", "Overloaded") }
}

const openaiWire: Wire = {
  name: "openai",
  make: OpenAIProposer.make,
  model: "gpt-5.4",
  baseURL: (server) => `${server.url}/v1`,
  keyVariable: "OPENAI_API_KEY",
  toolUse: openai.toolUse,
  text: openai.text,
  error: openai.error,
  feedback: (body) =>
    body.messages.slice(2).filter((message: any) => message.role === "tool" || message.role === "user")
      .map((message: any) => message.content),
  overloaded: { status: 503, json: openai.error("server_error", "The server is overloaded") }
}

const fast = { retry: { baseDelayMs: 10, maxDelayMs: 50, maxRetries: 3, timeoutMs: 5_000 } }

const proposerFor = (wire: Wire, server: Server, options: ModelOptions = {}) =>
  wire.make({
    model: wire.model,
    apiKey: "test-key",
    baseURL: wire.baseURL(server),
    env: {},
    ...fast,
    ...options,
    retry: { ...fast.retry, ...options.retry }
  })

const propose = (wire: Wire, server: Server, options: ModelOptions = {}, context: ResearchContext = toyContext()) =>
  Effect.flatMap(proposerFor(wire, server, options), (proposer) => proposer.propose(context))

const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.flip(effect), (error) => Effect.succeed(error as unknown as ProposerError))

for (const wire of [claudeWire, openaiWire]) {
  describe(`${wire.name} proposer through the real SDK`, () => {
    it.live("turns a good tool call into a proposal, with the context, the tool forced and the key sent", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ json: wire.toolUse(goodInput) }])
        const proposal = yield* propose(wire, server)
        expect(proposal.description).toBe("degree 5")
        expect(proposal.edits).toEqual(goodInput.edits)
        expect(server.received).toHaveLength(1)
        const request = server.received[0]!
        expect(request.headers.authorization).toBe("Bearer test-key")
        const body = request.body
        expect(body.model).toBe(wire.model)
        expect(body.temperature).toBeUndefined()
        const sent = JSON.stringify(body)
        for (const part of ["Toy research program", "DEGREE = 3", "@knob int 1..12", "# Journal", "10 experiments"]) {
          expect(sent).toContain(part)
        }
        if (wire.name === "claude") {
          expect(request.path).toBe("/v1/messages")
          expect(body.tool_choice).toEqual({ type: "tool", name: "propose_experiment", disable_parallel_tool_use: true })
          expect(body.tools[0].name).toBe("propose_experiment")
          // Stable parts first, with cache breakpoints: instructions, then the files; the journal after them.
          expect(body.system[0].cache_control).toEqual({ type: "ephemeral" })
          expect(body.system[0].text).toContain("Toy research program")
          expect(body.messages[0].content[0].cache_control).toEqual({ type: "ephemeral" })
          expect(body.messages[0].content[0].text).toContain("DEGREE = 3")
          expect(body.messages[0].content[1].text).toContain("# Journal")
          expect(body.max_tokens).toBe(ClaudeProposer.defaultMaxTokens)
        } else {
          expect(request.path).toBe("/v1/chat/completions")
          expect(body.tool_choice).toEqual({ type: "function", function: { name: "propose_experiment" } })
          expect(body.tools[0].function.name).toBe("propose_experiment")
          expect(body.messages[0].role).toBe("system")
          expect(body.messages[1].content.indexOf("DEGREE = 3")).toBeLessThan(body.messages[1].content.indexOf("# Journal"))
          // A local base URL is a server of one's own: the widely known max_tokens.
          expect(body.max_tokens).toBe(OpenAIProposer.defaultMaxTokens)
        }
      }))

    it.live("sends a bad edit back with the exact reason and takes the repaired one; the cost covers both calls", () =>
      Effect.gen(function*() {
        const bad = { ...goodInput, edits: [{ path: "train.py", search: "DEGREE = 4", replace: "DEGREE = 5" }] }
        const server = yield* serve([
          { json: wire.toolUse(bad, { input: 1000, output: 100 }) },
          { json: wire.toolUse(goodInput, { input: 1200, output: 80 }) }
        ])
        const proposal = yield* propose(wire, server)
        expect(proposal.edits).toEqual(goodInput.edits)
        expect(server.received).toHaveLength(2)
        const feedback = wire.feedback(server.received[1]!.body).join("\n")
        expect(feedback).toContain("train.py: search text not found")
        expect(feedback).toContain("3 tries left")
        expect(proposal.cost?.inputTokens).toBe(2200)
        expect(proposal.cost?.outputTokens).toBe(180)
      }))

    it.live("retries a 429 after the retry-after the server asked for", () =>
      Effect.gen(function*() {
        const server = yield* serve([
          { status: 429, headers: { "retry-after": "1" }, json: wire.error("rate_limit_error", "slow down") },
          { json: wire.toolUse(goodInput) }
        ])
        const started = Date.now()
        const proposal = yield* propose(wire, server)
        expect(proposal.description).toBe("degree 5")
        expect(server.received).toHaveLength(2)
        expect(Date.now() - started).toBeGreaterThanOrEqual(950)
      }))

    it.live("retries an overloaded API (529 / 503) with backoff", () =>
      Effect.gen(function*() {
        const server = yield* serve([wire.overloaded, wire.overloaded, { json: wire.toolUse(goodInput) }])
        const proposal = yield* propose(wire, server)
        expect(proposal.description).toBe("degree 5")
        expect(server.received).toHaveLength(3)
      }))

    it.live("stops at once on 401 with an error that names the key to fix", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ status: 401, json: wire.error("authentication_error", "invalid x-api-key") }])
        const proxy = yield* proposerFor(wire, server, { apiKey: undefined, env: { [wire.keyVariable]: "bad-key" } })
        const error = yield* failure(proxy.propose(toyContext()))
        expect(error).toBeInstanceOf(ProposerError)
        expect(error.fix).toBe(wire.keyVariable)
        expect(error.reason).toContain("401")
        expect(error.reason).toContain("invalid x-api-key")
        expect(error.message).toContain(wire.keyVariable)
        expect(server.received).toHaveLength(1)
        expect(server.received[0]!.headers.authorization).toBe("Bearer bad-key")
      }))

    it.live("does not retry a 400, and names the settings to check", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ status: 400, json: wire.error("invalid_request_error", "max_tokens: too large") }])
        const error = yield* failure(propose(wire, server))
        expect(error.reason).toContain("max_tokens: too large")
        expect(error.fix).toContain("maxTokens")
        expect(server.received).toHaveLength(1)
      }))

    it.live("retries a body that is not JSON", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ raw: "{\"id\": \"msg_1\", \"content\": [" }, { json: wire.toolUse(goodInput) }])
        const proposal = yield* propose(wire, server)
        expect(proposal.description).toBe("degree 5")
        expect(server.received).toHaveLength(2)
      }))

    it.live("gives up after the retries when the server never answers, aborting each request", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ hang: true }])
        const started = Date.now()
        const error = yield* failure(propose(wire, server, { retry: { timeoutMs: 300, maxRetries: 1 } }))
        expect(error.reason).toContain("no answer within 0.3 s")
        expect(error.reason).toContain("gave up after 2 attempts")
        expect(server.received).toHaveLength(2)
        expect(Date.now() - started).toBeLessThan(3_000)
        yield* Effect.sleep("50 millis")
        expect(server.received.every((request) => request.aborted)).toBe(true)
      }))

    it.live("counts a prose answer as a repair turn, and hands back an edit-less proposal when prose is all it gets", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ json: wire.text("I would rather discuss this first.") }])
        const proposal = yield* propose(wire, server, { repairTurns: 1 })
        expect(server.received).toHaveLength(2)
        expect(wire.feedback(server.received[1]!.body).join("\n")).toContain("You did not call propose_experiment")
        expect(proposal.edits).toEqual([])
        expect(proposal.invalid).toContain("prose without a propose_experiment call")
        expect(proposal.invalid).toContain("I would rather discuss this first.")
      }))

    it.live("rejects edits to prepare.py as not mutable, and after the repair turns hands them to the loop as they are", () =>
      Effect.gen(function*() {
        const hack = { ...goodInput, edits: [{ path: "prepare.py", search: "", replace: "print('hacked')\n" }] }
        const server = yield* serve([{ json: wire.toolUse(hack) }])
        const proposal = yield* propose(wire, server, { repairTurns: 2 })
        expect(server.received).toHaveLength(3)
        expect(wire.feedback(server.received[1]!.body).join("\n")).toContain("prepare.py: not a mutable file (mutable: train.py)")
        expect(wire.feedback(server.received[2]!.body).join("\n")).toContain("1 try left")
        expect(proposal.edits[0]!.path).toBe("prepare.py")
        expect(proposal.invalid).toContain("prepare.py: not a mutable file")
      }))

    it.live("rejects a proposal that fails the syntax check", () =>
      Effect.gen(function*() {
        const broken = { ...goodInput, edits: [{ path: "train.py", search: "DEGREE = 3 ", replace: "DEGREE = (3 " }] }
        const server = yield* serve([{ json: wire.toolUse(broken) }, { json: wire.toolUse(goodInput) }])
        const proposal = yield* propose(wire, server)
        expect(wire.feedback(server.received[1]!.body).join("\n")).toContain("syntax check failed")
        expect(proposal.edits).toEqual(goodInput.edits)
      }))

    it.live("interrupting the proposal aborts the HTTP request", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ hang: true }])
        const fiber = yield* Effect.forkChild(propose(wire, server))
        while (server.received.length === 0) yield* Effect.sleep("10 millis")
        yield* Fiber.interrupt(fiber)
        yield* Effect.sleep("100 millis")
        expect(server.received[0]!.aborted).toBe(true)
      }))

    it.live("refuses to spend under a cost budget when the model has no price", () =>
      Effect.gen(function*() {
        const server = yield* serve([{ json: wire.toolUse(goodInput) }])
        const error = yield* failure(
          propose(wire, server, { model: "unpriced-model" }, toyContext({ left: { experiments: 5, usd: 1 } }))
        )
        expect(error.reason).toContain("no price is known for model unpriced-model")
        expect(error.fix).toContain("pricing")
        expect(server.received).toHaveLength(0)
      }))

    it.live("switches to asking for the tool when the API refuses a forced tool call", () =>
      Effect.gen(function*() {
        const server = yield* serve((request) =>
          typeof request.body.tool_choice === "object" && request.body.tool_choice.type !== "auto"
            ? { status: 400, json: wire.error("invalid_request_error", "tool_choice: forced tool use is not supported by this model") }
            : { json: wire.toolUse(goodInput) }
        )
        const proposer = yield* proposerFor(wire, server)
        expect((yield* proposer.propose(toyContext())).description).toBe("degree 5")
        expect((yield* proposer.propose(toyContext())).description).toBe("degree 5")
        // one refused request, then auto for this call and the next
        expect(server.received.map((request) => JSON.stringify(request.body.tool_choice))).toHaveLength(3)
        expect(JSON.stringify(server.received[2]!.body.tool_choice)).toContain("auto")
      }))
  })
}

describe("cost against the token counts the server returned", () => {
  it.live("claude: uncached, cache writes and cache reads at their own prices", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ json: anthropic.toolUse(goodInput, { input: 1000, output: 200, cacheRead: 3000, cacheWrite: 500 }) }])
      const proposal = yield* propose(claudeWire, server)
      // claude-sonnet-4-6: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million
      expect(proposal.cost).toEqual({
        inputTokens: 4500,
        outputTokens: 200,
        cachedTokens: 3000,
        usd: (1000 * 3 + 200 * 15 + 3000 * 0.3 + 500 * 3.75) / 1e6
      })
    }))

  it.live("openai: cached prompt tokens at the cached price", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ json: openai.toolUse(goodInput, { input: 1000, output: 300, cacheRead: 4000 }) }])
      const proposal = yield* propose(openaiWire, server)
      // gpt-5.4: $2.50 in, $0.25 cached, $15 out per million
      expect(proposal.cost?.inputTokens).toBe(5000)
      expect(proposal.cost?.cachedTokens).toBe(4000)
      expect(proposal.cost?.outputTokens).toBe(300)
      expect(proposal.cost?.usd).toBeCloseTo((1000 * 2.5 + 4000 * 0.25 + 300 * 15) / 1e6, 12)
    }))

  it.live("does not repair once the proposal has spent the budget left", () =>
    Effect.gen(function*() {
      const bad = { ...goodInput, edits: [{ path: "train.py", search: "DEGREE = 4", replace: "DEGREE = 5" }] }
      const server = yield* serve([{ json: anthropic.toolUse(bad, { input: 10_000, output: 1000 }) }])
      const proposal = yield* propose(claudeWire, server, {}, toyContext({ left: { experiments: 5, usd: 0.01 } }))
      expect(server.received).toHaveLength(1)
      expect(proposal.edits).toEqual(bad.edits)
      expect(proposal.cost?.usd).toBeCloseTo((10_000 * 3 + 1000 * 15) / 1e6, 12)
    }))

  it.live("a configured price table replaces the default for its models", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ json: anthropic.toolUse(goodInput, { input: 1_000_000, output: 0 }) }])
      const proposal = yield* propose(claudeWire, server, {
        model: "my-claude",
        pricing: { "my-claude": { input: 7, output: 0, cacheRead: 0, cacheWrite: 0 } }
      })
      expect(proposal.cost?.usd).toBeCloseTo(7, 9)
    }))
})

describe("settings", () => {
  it.effect("names the key variable when there is no key", () =>
    Effect.gen(function*() {
      const claude = yield* failure(ClaudeProposer.make({ env: {} }))
      expect(claude.fix).toBe("ANTHROPIC_API_KEY")
      const gpt = yield* failure(OpenAIProposer.make({ env: {} }))
      expect(gpt.fix).toContain("OPENAI_API_KEY")
    }))

  it.live("honours the SDKs' environment variables for key and base URL", () =>
    Effect.gen(function*() {
      const server = yield* serve((request) =>
        request.path.includes("chat") ? { json: openai.toolUse(goodInput) } : { json: anthropic.toolUse(goodInput) }
      )
      const claude = yield* ClaudeProposer.make({ env: { ANTHROPIC_API_KEY: "a-key", ANTHROPIC_BASE_URL: server.url }, ...fast })
      yield* claude.propose(toyContext())
      const gpt = yield* OpenAIProposer.make({ env: { OPENAI_API_KEY: "o-key", OPENAI_BASE_URL: `${server.url}/v1` }, ...fast })
      yield* gpt.propose(toyContext())
      expect(server.received.map((request) => request.headers.authorization)).toEqual(["Bearer a-key", "Bearer o-key"])
      expect(server.received[0]!.body.model).toBe(ClaudeProposer.defaultModel)
      expect(server.received[1]!.body.model).toBe(OpenAIProposer.defaultModel)
    }))

  it.live("an OpenAI-compatible server of one's own needs no key; temperature and max tokens are passed", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ json: openai.toolUse(goodInput) }])
      const proposer = yield* OpenAIProposer.make({
        env: { OPENAI_BASE_URL: `${server.url}/v1` },
        model: "qwen3-coder",
        temperature: 0.3,
        maxTokens: 2048,
        ...fast
      })
      yield* proposer.propose(toyContext())
      const body = server.received[0]!.body
      expect(body).toMatchObject({ model: "qwen3-coder", temperature: 0.3, max_tokens: 2048 })
    }))

  it.live("the default Claude model is asked for the tool rather than forced, as its API requires", () =>
    Effect.gen(function*() {
      const server = yield* serve([{ json: anthropic.toolUse(goodInput) }])
      yield* propose(claudeWire, server, { model: ClaudeProposer.defaultModel })
      expect(server.received[0]!.body.tool_choice).toEqual({ type: "auto", disable_parallel_tool_use: true })
    }))
})

describe("openai: malformed tool arguments", () => {
  it.live("arguments that are not JSON come back as a repair turn", () =>
    Effect.gen(function*() {
      const server = yield* serve([
        { json: openai.toolUse("{\"description\": \"degree 5\", \"edits\": [") },
        { json: openai.toolUse(goodInput) }
      ])
      const proposal = yield* propose(openaiWire, server)
      expect(openaiWire.feedback(server.received[1]!.body).join("\n")).toContain("the tool arguments are not valid JSON")
      expect(proposal.description).toBe("degree 5")
    }))

  it.live("input missing a field names the field", () =>
    Effect.gen(function*() {
      const server = yield* serve([
        { json: anthropic.toolUse({ description: "x", edits: [] }) },
        { json: anthropic.toolUse(goodInput) }
      ])
      yield* propose(claudeWire, server)
      const said = claudeWire.feedback(server.received[1]!.body).join("\n")
      expect(said).toContain("hypothesis")
      expect(said).toContain("edits")
    }))
})

describe("openai: a refusal", () => {
  it.live("counts as a repair turn, and the next request carries text for the refusing message", () =>
    Effect.gen(function*() {
      // Like the real API: an assistant message needs content or tool calls.
      const server = yield* serve((request, index): Answer => {
        const invalid = (request.body?.messages ?? []).some((message: any) =>
          message.role === "assistant" && (message.content === null || message.content === undefined) && !message.tool_calls
        )
        if (invalid) return { status: 400, json: openai.error("invalid_request_error", "assistant message needs content or tool_calls") }
        return { json: index === 0 ? openai.completion({ refusal: "I can't help with that." }, "stop", { input: 100, output: 5 }) : openai.toolUse(goodInput) }
      })
      const proposal = yield* propose(openaiWire, server)
      expect(server.received).toHaveLength(2)
      const refused = server.received[1]!.body.messages.find((message: any) => message.role === "assistant")
      expect(refused.content).toBe("I can't help with that.")
      expect(proposal.invalid).toBeUndefined()
      expect(proposal.edits.length).toBeGreaterThan(0)
    }))
})
