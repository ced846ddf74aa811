/**
 * @autoresearch/llm: proposers that turn the research context into proposals. Claude and
 * OpenAI-compatible models speak the `propose_experiment` edit protocol with repair turns,
 * retries and cost accounting; the knob search needs no model at all; Prefetch overlaps
 * proposing with training.
 */
/** Claude through the Anthropic Messages API. */
export * as ClaudeProposer from "./ClaudeProposer.ts"
/** The provider-neutral proposal dialogue and the options every model proposer takes. */
export * as Dialogue from "./Dialogue.ts"
/** The offline default: a seeded search over the `# @knob` constants. */
export * as KnobProposer from "./KnobProposer.ts"
/** `# @knob` annotations: parsing, unit-interval mapping, edits. */
export * as Knobs from "./Knobs.ts"
/** The knob search strategy, as pure functions. */
export * as KnobSearch from "./KnobSearch.ts"
/** OpenAI Chat Completions and compatible servers (vLLM, Ollama, llama.cpp). */
export * as OpenAIProposer from "./OpenAIProposer.ts"
/** Prepares the next proposal while the current experiment trains. */
export * as Prefetch from "./Prefetch.ts"
/** Prices and the cost of a call. */
export * as Pricing from "./Pricing.ts"
/** The research context as prompt text. */
export * as Prompt from "./Prompt.ts"
/** The `propose_experiment` tool: definition and decoding. */
export * as ProposalTool from "./ProposalTool.ts"
/** Fault classification, backoff and retries for API calls. */
export * as Retry from "./Retry.ts"
