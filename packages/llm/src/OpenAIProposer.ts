/**
 * The Proposer over OpenAI Chat Completions through the `openai` SDK, and over any server
 * that speaks it (vLLM, Ollama, llama.cpp) through its base URL. Reads `OPENAI_API_KEY`
 * and `OPENAI_BASE_URL` like the SDK does; a server of one's own needs no key.
 */
import { Proposer, ProposerError } from "@autoresearch/core"
import OpenAI from "openai"
import { Effect, Layer, Schema } from "effect"
import * as Dialogue from "./Dialogue.ts"
import * as Prefetch from "./Prefetch.ts"
import { inputSchema, parseArguments, toolDescription, toolName } from "./ProposalTool.ts"
import { ApiFault, classify } from "./Retry.ts"

export const defaultModel = "gpt-5.4"
export const defaultMaxTokens = 16_000

const Response = Schema.Struct({
  choices: Schema.Array(Schema.Struct({
    finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
    message: Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      refusal: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
        id: Schema.String,
        function: Schema.Struct({ name: Schema.String, arguments: Schema.Unknown })
      }))))
    })
  })).check(Schema.isMinLength(1)),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.Number,
    completion_tokens: Schema.Number,
    prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
      cached_tokens: Schema.optional(Schema.NullOr(Schema.Number))
    })))
  })))
})
const decodeResponse = Schema.decodeUnknownResult(Response)

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam

const stopOf = (reason: string | null | undefined, refused: boolean): Dialogue.Turn<unknown>["stop"] =>
  refused || reason === "content_filter"
    ? "refusal"
    : reason === "tool_calls" || reason === "function_call"
    ? "tool"
    : reason === "stop"
    ? "end"
    : reason === "length"
    ? "length"
    : "other"

/**
 * The server and key a proposer with these options would use: OPENAI_API_KEY, or no key at
 * all for a server of one's own (OPENAI_BASE_URL other than api.openai.com); `apiKey` is
 * undefined when there is neither.
 */
export const credentials = (options: Pick<Dialogue.ModelOptions, "apiKey" | "baseURL" | "env"> = {}) => {
  const env = options.env ?? process.env
  const baseURL = options.baseURL ?? (env.OPENAI_BASE_URL || undefined)
  const ownServer = baseURL !== undefined && !/^https:\/\/api\.openai\.com(\/|$)/.test(baseURL)
  const apiKey = options.apiKey ?? (env.OPENAI_API_KEY || undefined) ?? (ownServer ? "none" : undefined)
  return { baseURL, ownServer, apiKey }
}

export const make = (options: Dialogue.ModelOptions = {}) =>
  Effect.gen(function*() {
    const model = options.model ?? defaultModel
    const { baseURL, ownServer, apiKey } = credentials(options)
    const keySetting = options.apiKey !== undefined ? "the proposer's apiKey option" : "OPENAI_API_KEY"
    if (apiKey === undefined) {
      return yield* new ProposerError({
        proposer: "openai",
        reason: "no API key",
        fix: "OPENAI_API_KEY (or OPENAI_BASE_URL for a server of your own)"
      })
    }
    const settings = Dialogue.dialogueSettings(options, model, false)
    const client = new OpenAI({ apiKey, ...(baseURL === undefined ? {} : { baseURL }), maxRetries: 0, timeout: settings.retry.timeoutMs })
    const maxTokens = options.maxTokens ?? defaultMaxTokens
    // OpenAI's reasoning models take max_completion_tokens; servers of one's own mostly know max_tokens only.
    const limit = ownServer ? { max_tokens: maxTokens } : { max_completion_tokens: maxTokens }

    const provider: Dialogue.Provider<ReadonlyArray<Message>> = {
      name: "openai",
      model,
      opening: (prompt) => [
        { role: "system", content: prompt.instructions },
        { role: "user", content: `${prompt.files}\n\n${prompt.situation}` }
      ],
      send: (messages, toolChoice) =>
        Effect.gen(function*() {
          const raw: unknown = yield* Effect.tryPromise({
            try: (signal) =>
              client.chat.completions.create({
                model,
                messages: [...messages],
                ...limit,
                ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
                tools: [{ type: "function", function: { name: toolName, description: toolDescription, parameters: inputSchema } }],
                tool_choice: toolChoice === "forced" ? { type: "function", function: { name: toolName } } : "auto"
              }, { signal, timeout: settings.retry.timeoutMs }),
            catch: (error) => classify(error)
          })
          const decoded = decodeResponse(raw)
          if (decoded._tag === "Failure") {
            return yield* new ApiFault({
              reason: `the response is not a Chat Completions reply: ${String(decoded.failure).slice(0, 300)}`,
              transient: true
            })
          }
          const choice = decoded.success.choices[0]!
          const toolCalls = choice.message.tool_calls ?? []
          const usage = decoded.success.usage
          const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0
          return {
            calls: toolCalls.map((call) => ({
              id: call.id,
              name: call.function.name,
              args: typeof call.function.arguments === "string"
                ? parseArguments(call.function.arguments)
                : { _tag: "Parsed" as const, value: call.function.arguments }
            })),
            text: choice.message.content ?? choice.message.refusal ?? "",
            stop: stopOf(choice.finish_reason, typeof choice.message.refusal === "string" && choice.message.refusal !== ""),
            usage: {
              input: Math.max(0, (usage?.prompt_tokens ?? 0) - cached),
              output: usage?.completion_tokens ?? 0,
              cacheRead: cached,
              cacheWrite: 0
            },
            answered: (replies, note) => [
              ...messages,
              {
                role: "assistant",
                // A message without tool calls needs text; a refusal comes back with none.
                content: choice.message.content ?? (toolCalls.length === 0 ? (choice.message.refusal ?? "") : null),
                ...(toolCalls.length === 0 ? {} : {
                  tool_calls: toolCalls.map((call) => ({
                    id: call.id,
                    type: "function" as const,
                    function: {
                      name: call.function.name,
                      arguments: typeof call.function.arguments === "string"
                        ? call.function.arguments
                        : JSON.stringify(call.function.arguments)
                    }
                  }))
                })
              },
              ...replies.map((reply): Message => ({ role: "tool", tool_call_id: reply.id, content: reply.text })),
              ...(note === undefined ? [] : [{ role: "user" as const, content: note }])
            ]
          } satisfies Dialogue.Turn<ReadonlyArray<Message>>
        }),
      fixFor: (fault) => Dialogue.settingToFix(fault, keySetting, model, "OPENAI_BASE_URL")
    }
    return Proposer.of(Dialogue.make(provider, settings))
  })

/** The OpenAI(-compatible) proposer as a layer; with `prefetch: true` it prepares the next proposal during training. */
export const layer = (options: Dialogue.ModelOptions = {}) =>
  options.prefetch === true ? Prefetch.layer(make(options)) : Layer.effect(Proposer, make(options))
