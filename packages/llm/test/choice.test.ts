import { it } from "@effect/vitest"
import { Proposer, resolveConfig } from "@autoresearch/core"
import { Effect, Layer } from "effect"
import { describe, expect } from "vitest"
import toyConfig from "../../../examples/toy/autoresearch.config.ts"
import { chooseProposer, type ProposerRequest } from "../../cli/src/ProposerChoice.ts"
import * as KnobProposer from "../src/KnobProposer.ts"

const config = resolveConfig(toyConfig)
const choose = (request: Partial<ProposerRequest>) =>
  chooseProposer({ choice: "auto", env: {}, replayDir: undefined, config, ...request })

describe("--proposer", () => {
  it.effect("auto: Claude, then OpenAI, then the knob search, by which key is set, and says why", () =>
    Effect.gen(function*() {
      const both = yield* choose({ env: { ANTHROPIC_API_KEY: "a", OPENAI_API_KEY: "o" } })
      expect(both.name).toBe("claude (claude-sonnet-5-5)")
      expect(both.why).toBe("auto: ANTHROPIC_API_KEY is set")
      const openai = yield* choose({ env: { OPENAI_API_KEY: "o" }, model: "gpt-5.4-mini" })
      expect(openai.name).toBe("openai (gpt-5.4-mini)")
      expect(openai.why).toBe("auto: OPENAI_API_KEY is set")
      const none = yield* choose({ env: { ANTHROPIC_API_KEY: "" } })
      expect(none.name).toBe("knob")
      expect(none.why).toContain("neither ANTHROPIC_API_KEY nor OPENAI_API_KEY is set")
    }))

  it.effect("auto: a replay folder, then the config's own proposer, come first", () =>
    Effect.gen(function*() {
      expect((yield* choose({ env: { ANTHROPIC_API_KEY: "a" }, replayDir: "candidates" })).name).toBe("replay")
      const own = KnobProposer.layer({ seed: 3 })
      const chosen = yield* choose({ env: { ANTHROPIC_API_KEY: "a" }, config: { ...config, proposer: own } })
      expect(chosen.name).toBe("config")
      expect(chosen.layer).toBe(own)
    }))

  it.effect("an explicit choice without what it needs fails with what to set", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(choose({ choice: "claude" }))).reason).toContain("ANTHROPIC_API_KEY")
      expect((yield* Effect.flip(choose({ choice: "openai" }))).reason).toContain("OPENAI_API_KEY")
      expect((yield* Effect.flip(choose({ choice: "replay" }))).reason).toContain("--replay-dir")
      const local = yield* choose({ choice: "openai", env: { OPENAI_BASE_URL: "http://127.0.0.1:11434/v1" } })
      expect(local.name).toBe("openai (gpt-5.4 at http://127.0.0.1:11434/v1)")
      expect((yield* choose({ choice: "knob", env: { ANTHROPIC_API_KEY: "a" } })).name).toBe("knob")
      // OpenAI's own server still needs a key, as the proposer itself would say
      const official = yield* Effect.flip(choose({ choice: "openai", env: { OPENAI_BASE_URL: "https://api.openai.com/v1" } }))
      expect(official.reason).toContain("OPENAI_API_KEY")
    }))

  it.effect("auto: a server of one's own (OPENAI_BASE_URL) is chosen without a key", () =>
    Effect.gen(function*() {
      const local = yield* choose({ env: { OPENAI_BASE_URL: "http://127.0.0.1:11434/v1" } })
      expect(local.name).toBe("openai (gpt-5.4 at http://127.0.0.1:11434/v1)")
      expect(local.why).toBe("auto: OPENAI_BASE_URL names a server of your own")
      expect((yield* choose({ env: { OPENAI_BASE_URL: "https://api.openai.com/v1" } })).name).toBe("knob")
    }))

  it.effect("the chosen layer builds the proposer", () =>
    Effect.gen(function*() {
      const nameOf = (layer: Layer.Layer<Proposer, unknown>) =>
        Effect.gen(function*() {
          return (yield* Proposer).name
        }).pipe(Effect.provide(layer), Effect.scoped)
      const claude = yield* choose({ choice: "claude", env: { ANTHROPIC_API_KEY: "a" }, prefetch: true })
      expect(yield* nameOf(claude.layer)).toBe("claude")
      expect(yield* nameOf((yield* choose({})).layer)).toBe("knob")
    }))
})
