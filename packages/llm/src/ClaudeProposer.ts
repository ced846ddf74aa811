/**
 * The Proposer over Claude, through `@anthropic-ai/sdk` and the Messages API. The
 * instructions and the mutable files carry prompt-cache breakpoints, so that the calls
 * of a research run pay full price only for the journal and what changed since.
 * Reads `ANTHROPIC_API_KEY` and `ANTHROPIC_BASE_URL` like the SDK does.
 */
import Anthropic from "@anthropic-ai/sdk"
import { Proposer, ProposerError } from "@autoresearch/core"
import { Effect, Layer, Schema } from "effect"
import * as Dialogue from "./Dialogue.ts"
import * as Prefetch from "./Prefetch.ts"
import { inputSchema, toolDescription, toolName } from "./ProposalTool.ts"
import { ApiFault, classify } from "./Retry.ts"

export const defaultModel = "claude-sonnet-5-5"
export const defaultMaxTokens = 16_000

/** Models whose API answers a forced tool call with an error (they are asked for it instead). */
const rejectsForcing = (model: string) => /^claude-sonnet-5-5/.test(model)

/** Only what the dialogue reads from a response; the rest is passed back untouched. */
const Response = Schema.Struct({
  content: Schema.Array(Schema.Struct({ type: Schema.String })),
  stop_reason: Schema.NullOr(Schema.String),
  usage: Schema.Struct({
    input_tokens: Schema.Number,
    output_tokens: Schema.Number,
    cache_creation_input_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
    cache_read_input_tokens: Schema.optional(Schema.NullOr(Schema.Number))
  })
})
const decodeResponse = Schema.decodeUnknownResult(Response)

interface Conversation {
  readonly system: ReadonlyArray<Anthropic.TextBlockParam>
  readonly messages: ReadonlyArray<Anthropic.MessageParam>
}

const stopOf = (reason: string | null): Dialogue.Turn<Conversation>["stop"] =>
  reason === "tool_use"
    ? "tool"
    : reason === "end_turn" || reason === "stop_sequence"
    ? "end"
    : reason === "max_tokens"
    ? "length"
    : reason === "refusal"
    ? "refusal"
    : "other"

export const make = (options: Dialogue.ModelOptions = {}) =>
  Effect.gen(function*() {
    const env = options.env ?? process.env
    const model = options.model ?? defaultModel
    const apiKey = options.apiKey ?? env.ANTHROPIC_API_KEY
    const keySetting = options.apiKey !== undefined ? "the proposer's apiKey option" : "ANTHROPIC_API_KEY"
    if (apiKey === undefined || apiKey === "") {
      return yield* new ProposerError({ proposer: "claude", reason: "no API key", fix: "ANTHROPIC_API_KEY" })
    }
    const baseURL = options.baseURL ?? env.ANTHROPIC_BASE_URL
    const settings = Dialogue.dialogueSettings(options, model, rejectsForcing(model))
    const client = new Anthropic({
      apiKey,
      ...(baseURL === undefined || baseURL === "" ? {} : { baseURL }),
      maxRetries: 0,
      timeout: settings.retry.timeoutMs
    })
    const maxTokens = options.maxTokens ?? defaultMaxTokens

    const provider: Dialogue.Provider<Conversation> = {
      name: "claude",
      model,
      opening: (prompt) => ({
        system: [{ type: "text", text: prompt.instructions, cache_control: { type: "ephemeral" } }],
        messages: [{
          role: "user",
          content: [
            { type: "text", text: prompt.files, cache_control: { type: "ephemeral" } },
            { type: "text", text: prompt.situation }
          ]
        }]
      }),
      send: (conversation, toolChoice) =>
        Effect.gen(function*() {
          const raw: unknown = yield* Effect.tryPromise({
            try: (signal) =>
              client.messages.create({
                model,
                max_tokens: maxTokens,
                ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
                system: [...conversation.system],
                messages: [...conversation.messages],
                tools: [{ name: toolName, description: toolDescription, input_schema: inputSchema }],
                tool_choice: toolChoice === "forced"
                  ? { type: "tool", name: toolName, disable_parallel_tool_use: true }
                  : { type: "auto", disable_parallel_tool_use: true }
              }, { signal, timeout: settings.retry.timeoutMs }),
            catch: (error) => classify(error)
          })
          const decoded = decodeResponse(raw)
          if (decoded._tag === "Failure") {
            return yield* new ApiFault({
              reason: `the response is not a Messages API reply: ${String(decoded.failure).slice(0, 300)}`,
              transient: true
            })
          }
          const content = (raw as Anthropic.Message).content
          const usage = decoded.success.usage
          return {
            calls: content.flatMap((block) =>
              block.type === "tool_use"
                ? [{ id: block.id, name: block.name, args: { _tag: "Parsed" as const, value: block.input } }]
                : []
            ),
            text: content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n"),
            stop: stopOf(decoded.success.stop_reason),
            usage: {
              input: usage.input_tokens,
              output: usage.output_tokens,
              cacheRead: usage.cache_read_input_tokens ?? 0,
              cacheWrite: usage.cache_creation_input_tokens ?? 0
            },
            answered: (replies, note) => ({
              system: conversation.system,
              messages: [
                ...conversation.messages,
                // Sent back exactly as received: thinking blocks must come back unchanged.
                {
                  role: "assistant",
                  content: content.length === 0
                    ? [{ type: "text", text: "(no answer)" }]
                    : content as Array<Anthropic.ContentBlockParam>
                },
                {
                  role: "user",
                  content: [
                    ...replies.map((reply): Anthropic.ToolResultBlockParam => ({
                      type: "tool_result",
                      tool_use_id: reply.id,
                      content: reply.text,
                      is_error: true
                    })),
                    ...(note === undefined ? [] : [{ type: "text" as const, text: note }])
                  ]
                }
              ]
            })
          } satisfies Dialogue.Turn<Conversation>
        }),
      fixFor: (fault) => Dialogue.settingToFix(fault, keySetting, model, "ANTHROPIC_BASE_URL")
    }
    return Proposer.of(Dialogue.make(provider, settings))
  })

/** The Claude proposer as a layer; with `prefetch: true` it prepares the next proposal during training. */
export const layer = (options: Dialogue.ModelOptions = {}) =>
  options.prefetch === true ? Prefetch.layer(make(options)) : Layer.effect(Proposer, make(options))
