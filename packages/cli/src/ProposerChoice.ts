/**
 * Which proposer a run uses: `--proposer claude|openai|knob|replay`, or `auto`, which
 * takes a replay folder when one is given, then the config's own proposer, then Claude,
 * then OpenAI by which API key is set, and otherwise the offline knob search. The choice
 * comes back with the reason, for the run to say which it chose and why.
 */
import { type Proposer, ReplayProposer, type ResolvedConfig } from "@autoresearch/core"
import { ClaudeProposer, KnobProposer, OpenAIProposer } from "@autoresearch/llm"
import { Effect, type Layer } from "effect"
import * as path from "node:path"
import { CliError } from "./LoadConfig.ts"

export const proposerNames = ["auto", "claude", "openai", "knob", "replay"] as const
export type ProposerName = (typeof proposerNames)[number]

export interface ProposerChoice {
  /** What the run prints, e.g. `claude (claude-sonnet-5-5)`. */
  readonly name: string
  readonly layer: Layer.Layer<Proposer, unknown>
  /** Why this one, e.g. `auto: ANTHROPIC_API_KEY is set`. */
  readonly why: string
}

export interface ProposerRequest {
  readonly choice: ProposerName
  readonly env: Readonly<Record<string, string | undefined>>
  readonly replayDir: string | undefined
  readonly config: Pick<ResolvedConfig, "proposer" | "seed">
  /** For the model proposers: a model other than the default, and prefetching. */
  readonly model?: string
  readonly prefetch?: boolean
}

const set = (value: string | undefined) => value !== undefined && value !== ""

export const chooseProposer = (request: ProposerRequest): Effect.Effect<ProposerChoice, CliError> => {
  const { choice, env, config } = request
  const modelOptions = {
    env,
    ...(request.model === undefined ? {} : { model: request.model }),
    ...(request.prefetch === undefined ? {} : { prefetch: request.prefetch })
  }
  const claude = (why: string): ProposerChoice => ({
    name: `claude (${request.model ?? ClaudeProposer.defaultModel})`,
    layer: ClaudeProposer.layer(modelOptions),
    why
  })
  const openai = (why: string): ProposerChoice => ({
    name: `openai (${request.model ?? OpenAIProposer.defaultModel}${set(env.OPENAI_BASE_URL) ? ` at ${env.OPENAI_BASE_URL}` : ""})`,
    layer: OpenAIProposer.layer(modelOptions),
    why
  })
  const knob = (why: string): ProposerChoice => ({ name: "knob", layer: KnobProposer.layer({ seed: config.seed }), why })
  const replay = (dir: string, why: string): ProposerChoice => ({
    name: "replay",
    layer: ReplayProposer.layer(path.resolve(dir)),
    why
  })

  switch (choice) {
    case "replay":
      return request.replayDir === undefined
        ? Effect.fail(new CliError({ reason: "--proposer replay needs --replay-dir DIR" }))
        : Effect.succeed(replay(request.replayDir, "--proposer replay"))
    case "claude":
      return set(env.ANTHROPIC_API_KEY)
        ? Effect.succeed(claude("--proposer claude"))
        : Effect.fail(new CliError({ reason: "--proposer claude needs an API key: set ANTHROPIC_API_KEY" }))
    case "openai":
      return OpenAIProposer.credentials({ env }).apiKey !== undefined
        ? Effect.succeed(openai("--proposer openai"))
        : Effect.fail(
          new CliError({
            reason: "--proposer openai needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for a server of your own)"
          })
        )
    case "knob":
      return Effect.succeed(knob("--proposer knob"))
    case "auto": {
      if (request.replayDir !== undefined) return Effect.succeed(replay(request.replayDir, "auto: --replay-dir is given"))
      if (config.proposer !== undefined) {
        return Effect.succeed({ name: "config", layer: config.proposer, why: "auto: autoresearch.config.ts sets `proposer`" })
      }
      if (set(env.ANTHROPIC_API_KEY)) return Effect.succeed(claude("auto: ANTHROPIC_API_KEY is set"))
      if (set(env.OPENAI_API_KEY)) return Effect.succeed(openai("auto: OPENAI_API_KEY is set"))
      if (OpenAIProposer.credentials({ env }).ownServer) return Effect.succeed(openai("auto: OPENAI_BASE_URL names a server of your own"))
      return Effect.succeed(
        knob("auto: neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set (nor OPENAI_BASE_URL); searching the `# @knob` constants offline")
      )
    }
  }
}
