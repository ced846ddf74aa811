/**
 * What `Research.run` refuses before it trains anything, in process and without a
 * runner at work: a research file that does not exist (named as missing, not as "not
 * committed", for library users too), a missing plug-in, and a lost journal while git
 * holds the tag's history, refused before anything is written in the run's state.
 */
import { defineResearch, Proposer, Research, Runner, Scorer } from "@autoresearch/core"
import { Effect, Layer } from "effect"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as Autoresearch from "../src/Autoresearch.ts"
import { git, makeToyRepo, type ToyRepo } from "./fixtures.ts"

let repos: Array<ToyRepo> = []
afterEach(() => {
  for (const repo of repos) repo.cleanup()
  repos = []
})

const toy = () => {
  const repo = makeToyRepo()
  repos.push(repo)
  return repo
}

const config = (mutable: Array<string> = ["train.py"]) =>
  defineResearch({
    mutable,
    immutable: ["prepare.py"],
    program: "program.md",
    phases: { prepare: ["prepare.py"], train: ["train.py"], predict: ["prepare.py", "predict"] },
    metric: { name: "val_mse", direction: "min" },
    budget: { experimentSeconds: 20, maxExperiments: 2 }
  })

/** Plug-ins that must never be reached: each check refuses before any runs. */
const unreachable = {
  proposer: Layer.succeed(Proposer, Proposer.of({ name: "none", propose: () => Effect.die("proposed") })),
  runner: Layer.succeed(Runner, Runner.of({ name: "none", run: () => Effect.die("ran") })),
  scorer: Layer.succeed(Scorer, Scorer.of({ name: "none", score: () => Effect.die("scored") }))
}

describe("Research.run refuses before it starts", () => {
  it.live("a research file that does not exist is named as missing, with its path", () =>
    Effect.gen(function*() {
      const repo = toy()
      const error = yield* Effect.flip(Research.run({ dir: repo.research, tag: "t", config: config(["train.py", "model.py"]), ...unreachable }))
      expect((error as Error).message).toBe(
        `mutable file model.py does not exist: ${path.join(repo.research, "model.py")} (create it and commit it, or remove it from the config)`
      )
      expect(fs.existsSync(repo.stateDir("t"))).toBe(false)
    }))

  it.live("checkCheckout says so too, and still says 'not committed' of a file that exists but is not committed", () =>
    Effect.gen(function*() {
      const repo = toy()
      const where = yield* Research.paths(repo.research, "t")
      const missing = yield* Effect.flip(Research.checkCheckout(where, { mutable: ["train.py"], immutable: ["gone.py"], program: "program.md" }))
      expect(missing.message).toContain("immutable file gone.py does not exist")
      fs.writeFileSync(path.join(repo.research, "gone.py"), "")
      const loose = yield* Effect.flip(Research.checkCheckout(where, { mutable: ["train.py"], immutable: ["gone.py"] }))
      expect(loose.message).toContain("not committed: gone.py")
    }))

  it.live("a missing plug-in is named, with where to get one", () =>
    Effect.gen(function*() {
      const repo = toy()
      const error = yield* Effect.flip(Research.run({ dir: repo.research, tag: "t", config: config(), proposer: unreachable.proposer, runner: unreachable.runner }))
      expect((error as Error).message).toContain("no scorer (pass `scorer`")
    }))

  it.live("a lost journal with history in git: refused, and no config-modules.json or research.json is written", () =>
    Effect.gen(function*() {
      const repo = toy()
      const head = git(repo.root, "rev-parse", "HEAD")
      git(repo.root, "update-ref", "refs/autoresearch/t/discarded/1", head)
      const module = path.join(repo.research, "prepare.py")
      const error = yield* Effect.flip(Research.run({ dir: repo.research, tag: "t", config: config(), configModules: [module], ...unreachable }))
      expect((error as Error).message).toContain("--fresh")
      expect(fs.existsSync(path.join(repo.stateDir("t"), "config-modules.json"))).toBe(false)
      expect(fs.existsSync(path.join(repo.stateDir("t"), "research.json"))).toBe(false)
      expect(fs.existsSync(path.join(repo.stateDir("t"), "lock"))).toBe(false)
    }))
})

describe("a research directory given as a file URL", () => {
  it.live("Research.paths and Research.run resolve it as the path it names, not against the working directory", () =>
    Effect.gen(function*() {
      const repo = toy()
      const url = new URL(path.basename(repo.research), pathToFileURL(path.dirname(repo.research) + path.sep))
      expect(path.relative(process.cwd(), repo.research)).not.toBe(path.basename(repo.research))
      expect(yield* Research.paths(url, "t")).toEqual(yield* Research.paths(repo.research, "t"))
      expect(Research.defaultTag(url)).toBe(Research.defaultTag(repo.research))
      const error = yield* Effect.flip(Research.run({ dir: url, tag: "t", config: config(["train.py", "model.py"]), ...unreachable }))
      expect((error as Error).message).toContain(`does not exist: ${path.join(repo.research, "model.py")}`)
    }))

  it.live("another kind of URL is refused, by Research.run and by Autoresearch.run", () =>
    Effect.gen(function*() {
      const url = new URL("https://example.com/research")
      const refused = "research directory https://example.com/research is not a file: URL (pass a path or a file: URL)"
      expect((yield* Effect.flip(Research.paths(url, "t"))).message).toBe(refused)
      expect(((yield* Effect.flip(Research.run({ dir: url, config: config(), ...unreachable }))) as Error).message).toBe(refused)
      expect(((yield* Effect.flip(Autoresearch.run({ dir: url }))) as Error).message).toBe(refused)
    }))
})
