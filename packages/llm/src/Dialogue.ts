/**
 * One proposal as a short conversation with a model, the same for every provider: send
 * the context, read the `propose_experiment` call, check its edits exactly as the loop
 * will, and send any rejection back as the tool's result for a bounded number of repair
 * turns. API faults are retried here; tokens and dollars of every call are summed into
 * the proposal's cost. A provider supplies only the wire format (`Provider`).
 */
import { addCost, type Cost, type Proposal, ProposerError, type ResearchContext, zeroCost } from "@autoresearch/core"
import { Effect } from "effect"
import { costOf, defaultPrices, type Price, type PriceTable, priceFor, type Usage } from "./Pricing.ts"
import { render, type PromptParts } from "./Prompt.ts"
import { type Arguments, decodeInput, ignoredCall, nudge, type ProposalInput, rejection, toolName } from "./ProposalTool.ts"
import { type ApiFault, defaultRetryPolicy, type RetryPolicy, withRetries } from "./Retry.ts"

/** Options shared by the model proposers; every one has a default. */
export interface ModelOptions {
  readonly model?: string
  /** Sampling temperature; left to the model's default when unset (some models accept no other). */
  readonly temperature?: number
  /** Output tokens per call, thinking included. */
  readonly maxTokens?: number
  /** The API's base URL (defaults to the SDK's environment variable, then the provider's). */
  readonly baseURL?: string
  /** The API key (defaults to the SDK's environment variable). */
  readonly apiKey?: string
  /** Answers the model may correct after the first, when its edits do not apply. */
  readonly repairTurns?: number
  /** Retries, backoff and the per-call time limit. */
  readonly retry?: Partial<RetryPolicy>
  /** Prices by model name, over the default table. */
  readonly pricing?: PriceTable
  /**
   * `forced` makes the model call the tool; `auto` asks it to in the instructions, for
   * models and servers that reject forcing. Unset: forced, unless the model is known to
   * reject it, and auto from the first time the API refuses forcing.
   */
  readonly toolChoice?: "forced" | "auto"
  /** Prepare the next proposal while the current experiment trains (see Prefetch). */
  readonly prefetch?: boolean
  /** The environment the SDK's variables are read from (default: `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>
}

export type ToolChoice = "forced" | "auto"

export interface ToolCall {
  readonly id: string
  readonly name: string
  readonly args: Arguments
}

/** One answer of the model, in provider-neutral terms. */
export interface Turn<Conversation> {
  readonly calls: ReadonlyArray<ToolCall>
  readonly text: string
  readonly stop: "tool" | "end" | "length" | "refusal" | "other"
  readonly usage: Usage
  /** The conversation with this answer and the replies to it: a result for each tool call, then `note` if any. */
  readonly answered: (replies: ReadonlyArray<Reply>, note: string | undefined) => Conversation
}

export interface Reply {
  readonly id: string
  readonly text: string
}

/** The wire format of one API: what the dialogue needs from Anthropic or OpenAI. */
export interface Provider<Conversation> {
  readonly name: string
  readonly model: string
  readonly opening: (prompt: PromptParts) => Conversation
  readonly send: (conversation: Conversation, toolChoice: ToolChoice) => Effect.Effect<Turn<Conversation>, ApiFault>
  /** The setting or environment variable that fixes a fault no retry can. */
  readonly fixFor: (fault: ApiFault) => string | undefined
}

export interface DialogueSettings {
  readonly repairTurns: number
  readonly retry: RetryPolicy
  readonly price: Price | undefined
  readonly toolChoice: ToolChoice
  /** Whether `toolChoice` was chosen by the user (then it is never switched). */
  readonly toolChoiceFixed: boolean
}

export const dialogueSettings = (options: ModelOptions, model: string, rejectsForcing: boolean): DialogueSettings => ({
  repairTurns: Math.max(0, options.repairTurns ?? 3),
  retry: { ...defaultRetryPolicy, ...options.retry },
  price: priceFor({ ...defaultPrices, ...options.pricing }, model),
  toolChoice: options.toolChoice ?? (rejectsForcing ? "auto" : "forced"),
  toolChoiceFixed: options.toolChoice !== undefined
})

/** A 400 that says the API will not force a tool call. */
const refusesForcing = (fault: ApiFault) => fault.status === 400 && /tool.?choice|forced tool|force a tool/i.test(fault.reason)

/** Why a turn is not a usable call, when it holds no `propose_experiment` call at all. */
const noCallReason = (turn: Turn<unknown>) => {
  if (turn.stop === "refusal") return "the model refused to answer"
  if (turn.stop === "length") return `the answer was cut off at the token limit before any ${toolName} call`
  const said = turn.text.trim().replace(/\s+/g, " ")
  return `the answer was prose without a ${toolName} call${said === "" ? "" : `: "${said.slice(0, 160)}"`}`
}

type Verdict =
  | { readonly _tag: "Accepted"; readonly input: ProposalInput }
  | {
    readonly _tag: "Rejected"
    readonly reason: string
    /** The call the rejection answers; none when the turn had no call. */
    readonly callId: string | undefined
    readonly input: ProposalInput | undefined
    /** Answers to the turn's other tool calls. */
    readonly others: ReadonlyArray<Reply>
  }

/** What one answer amounts to: a proposal that passes the loop's check, or the exact reason it does not. */
const judge = Effect.fnUntraced(function*(answer: Turn<unknown>, check: ResearchContext["check"]) {
  const [call, ...extra] = answer.calls.filter((candidate) => candidate.name === toolName)
  const others: Array<Reply> = [
    ...extra.map((other) => ({ id: other.id, text: ignoredCall })),
    ...answer.calls
      .filter((candidate) => candidate.name !== toolName)
      .map((stray) => ({ id: stray.id, text: `Unknown tool ${stray.name}; the only tool is ${toolName}.` }))
  ]
  if (call === undefined) {
    return { _tag: "Rejected", reason: noCallReason(answer), callId: undefined, input: undefined, others } satisfies Verdict
  }
  const decoded = decodeInput(call.args)
  if (decoded._tag === "Failure") {
    const cut = answer.stop === "length" ? " (the answer was cut off at the token limit; send smaller edits)" : ""
    return { _tag: "Rejected", reason: decoded.failure + cut, callId: call.id, input: undefined, others } satisfies Verdict
  }
  const checked = yield* Effect.result(check(decoded.success.edits))
  if (checked._tag === "Success") return { _tag: "Accepted", input: decoded.success } satisfies Verdict
  return { _tag: "Rejected", reason: checked.failure.message, callId: call.id, input: decoded.success, others } satisfies Verdict
})

/** The setting that fixes a fault retrying cannot (a bad key, an unknown model), named for the error. */
export const settingToFix = (fault: ApiFault, keySetting: string, model: string, baseUrlVariable: string): string | undefined => {
  if (fault.status === 401) return keySetting
  if (fault.status === 403) return `${keySetting} (the key has no access to ${model})`
  if (fault.status === 404) return `the proposer's model (${model}), or ${baseUrlVariable}`
  if (fault.status === 400 || fault.status === 413 || fault.status === 422) {
    return "the proposer's model, maxTokens and temperature options"
  }
  return undefined
}

/**
 * A proposer over a provider. After the repair turns are spent it hands back the last
 * proposal as it is (the loop records it `invalid` with the same reason), or, when the
 * model never produced one, a proposal without edits that says why.
 */
export const make = <Conversation>(provider: Provider<Conversation>, settings: DialogueSettings) => {
  let toolChoice = settings.toolChoice
  let warnedPrice = false

  const send = (conversation: Conversation) =>
    Effect.gen(function*() {
      while (true) {
        const sent = yield* Effect.result(withRetries(provider.send(conversation, toolChoice), settings.retry, provider.name))
        if (sent._tag === "Success") return sent.success
        const { fault, attempts } = sent.failure
        if (toolChoice === "forced" && !settings.toolChoiceFixed && refusesForcing(fault)) {
          toolChoice = "auto"
          yield* Effect.logWarning(`${provider.name}: ${provider.model} does not accept a forced tool call; asking for it instead`)
          continue
        }
        return yield* new ProposerError({
          proposer: provider.name,
          reason: `${fault.message}${fault.transient ? ` (gave up after ${attempts} attempts)` : ""}`,
          ...(fault.transient ? {} : { fix: provider.fixFor(fault) })
        })
      }
    })

  const checkPrice = Effect.fnUntraced(function*(context: ResearchContext) {
    if (settings.price !== undefined) return
    if (context.left.usd !== undefined) {
      return yield* new ProposerError({
        proposer: provider.name,
        reason: `no price is known for model ${provider.model}, so the cost budget (maxCostUsd) cannot be kept`,
        fix: "the proposer's `pricing` option"
      })
    }
    if (!warnedPrice) {
      warnedPrice = true
      yield* Effect.logWarning(`${provider.name}: no price for model ${provider.model}; its cost is recorded as $0`)
    }
  })

  const propose = Effect.fnUntraced(function*(context: ResearchContext) {
    yield* checkPrice(context)
    let conversation = provider.opening(render(context))
    let cost: Cost = zeroCost
    let last: { input: ProposalInput | undefined; reason: string } = { input: undefined, reason: "" }
    const turns = settings.repairTurns + 1
    for (let turn = 1; turn <= turns; turn++) {
      const answer = yield* send(conversation)
      cost = addCost(cost, costOf(answer.usage, settings.price))
      const verdict = yield* judge(answer, context.check)
      if (verdict._tag === "Accepted") return { ...verdict.input, cost } satisfies Proposal
      last = { input: verdict.input ?? last.input, reason: verdict.reason }
      const left = turns - turn
      conversation = verdict.callId === undefined
        ? answer.answered(verdict.others, nudge(left))
        : answer.answered([{ id: verdict.callId, text: rejection(verdict.reason, left) }, ...verdict.others], undefined)
      if (left > 0 && context.left.usd !== undefined && cost.usd >= context.left.usd) {
        last = { ...last, reason: `${last.reason} (not repaired: the cost budget is spent)` }
        break
      }
    }
    yield* Effect.logWarning(`${provider.name}: no valid proposal: ${last.reason}`)
    if (last.input !== undefined) return { ...last.input, cost, invalid: last.reason } satisfies Proposal
    return {
      description: `no usable proposal from ${provider.model}`,
      hypothesis: "",
      edits: [],
      cost,
      invalid: last.reason
    } satisfies Proposal
  })

  return { name: provider.name, propose }
}
