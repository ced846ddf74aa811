/**
 * What a model call costs: token usage as the APIs report it, a price table in USD per
 * million tokens (current Claude and OpenAI list prices by default, replaceable), and
 * the pure arithmetic that turns one into a `Cost` for the journal.
 */
import type { Cost } from "@autoresearch/core"

/** USD per million tokens. */
export interface Price {
  readonly input: number
  readonly output: number
  /** Input read from the prompt cache. */
  readonly cacheRead: number
  /** Input written to the prompt cache (Anthropic's 5-minute cache); OpenAI does not bill writes. */
  readonly cacheWrite: number
}

export type PriceTable = Readonly<Record<string, Price>>

/** Tokens of one call, split the way they are billed. */
export interface Usage {
  /** Input neither read from nor written to the cache. */
  readonly input: number
  readonly output: number
  readonly cacheRead: number
  readonly cacheWrite: number
}

const claude = (input: number, output: number, cacheRead = input / 10): Price => ({
  input,
  output,
  cacheRead,
  cacheWrite: input * 1.25
})
const openai = (input: number, output: number, cacheRead: number): Price => ({ input, output, cacheRead, cacheWrite: input })

/**
 * List prices on 2026-11-26 (platform.claude.com/docs/en/about-claude/pricing,
 * openai.com/api/pricing), standard tier, short context. Check them before relying on a
 * budget; pass your own table through the proposer's `pricing` option.
 */
export const defaultPrices: PriceTable = {
  "claude-fable-5-1": claude(10, 50, 0.25),
  "claude-fable-5": claude(10, 50, 1),
  "claude-opus-5-5": claude(4, 20, 0.2),
  "claude-opus-5": claude(5, 25),
  "claude-opus-4-8": claude(5, 25),
  "claude-opus-4-7": claude(5, 25),
  "claude-opus-4-6": claude(5, 25),
  "claude-opus-4-5": claude(5, 25),
  "claude-sonnet-5-5": claude(2, 10, 0.1),
  "claude-sonnet-5": claude(2, 10),
  "claude-sonnet-4-6": claude(3, 15),
  "claude-sonnet-4-5": claude(3, 15),
  "claude-haiku-5-5": claude(0.1, 0.5, 0.01),
  "claude-haiku-4-5": claude(1, 5),
  "gpt-5.5": openai(5, 30, 0.5),
  "gpt-5.4": openai(2.5, 15, 0.25),
  "gpt-5.4-mini": openai(0.75, 4.5, 0.075),
  "gpt-5.4-nano": openai(0.2, 1.25, 0.02)
}

/**
 * The price of a model: its exact name, else the longest table key it starts with, so a
 * dated snapshot (`claude-haiku-4-5-20251001`) finds its family.
 */
export const priceFor = (table: PriceTable, model: string): Price | undefined => {
  if (table[model] !== undefined) return table[model]
  const key = Object.keys(table)
    .filter((name) => model.startsWith(`${name}-`))
    .sort((a, b) => b.length - a.length)[0]
  return key === undefined ? undefined : table[key]
}

/**
 * The journal's cost of one call. `inputTokens` counts every input token, cached or not;
 * `cachedTokens` is the part read from the cache. Without a price, `usd` is 0.
 */
export const costOf = (usage: Usage, price: Price | undefined): Cost => ({
  inputTokens: usage.input + usage.cacheRead + usage.cacheWrite,
  outputTokens: usage.output,
  cachedTokens: usage.cacheRead,
  usd: price === undefined ? 0 : (
    usage.input * price.input +
    usage.output * price.output +
    usage.cacheRead * price.cacheRead +
    usage.cacheWrite * price.cacheWrite
  ) / 1_000_000
})
