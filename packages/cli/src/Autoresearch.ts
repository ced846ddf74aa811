/**
 * `autoresearch run` as a function, with the CLI's defaults: the config loaded from the
 * research directory (its local modules sealed), the config's own plug-ins, else a
 * `CommandScorer` for `phases.score`, the `LocalRunner` with the config's caps, and the
 * proposer `auto` picks. It lives here, not in core, because those defaults are packages
 * that depend on core. `run` is the Effect the `run` command calls; `runPromise` is for a
 * plain script, with Ctrl-C stopping it cleanly.
 */
import { type Proposer, Research, Signals } from "@autoresearch/core"
import { Effect, type Layer } from "effect"
import { loadConfig } from "./LoadConfig.ts"
import { checkPython, type RunnerChoice, runnerLayer, scorerLayer } from "./Open.ts"
import { chooseProposer, type ProposerName } from "./ProposerChoice.ts"

export interface RunOptions extends Omit<Research.RunOptions, "config" | "configModules" | "proposer" | "onStart"> {
  /** A proposer layer, or how to choose one (default `auto`: see `autoresearch run --help`). */
  readonly proposer?: Layer.Layer<Proposer, unknown> | ProposerName
  /** For the replay proposer: a folder whose subfolders, in name order, hold new versions of mutable files. */
  readonly replayDir?: string
  /** Which runner when none is passed: the config's (default), the local one, or Slurm. */
  readonly runnerChoice?: RunnerChoice
  /** For claude and openai: a model other than the default, and preparing the next proposal while one trains. */
  readonly model?: string
  readonly prefetch?: boolean
  /** Called once the checks have passed: the proposer chosen and why, and the Python version found. */
  readonly onStart?: (started: Started) => void | Effect.Effect<void, unknown>
}

export interface Started {
  readonly dir: string
  readonly where: Research.ResearchPaths
  readonly proposer: { readonly name: string; readonly why: string }
  readonly python: string
}

export const run = Effect.fn("Autoresearch.run")(function*(options: RunOptions) {
  const dir = yield* Research.directoryPath(options.dir)
  const { config, modules } = yield* loadConfig(dir, options.budget)
  const given = options.proposer
  const chosen = typeof given === "object"
    ? { name: "given", why: "passed to run", layer: given }
    : yield* chooseProposer({
      choice: given ?? "auto",
      env: process.env,
      replayDir: options.replayDir,
      config,
      ...(options.model === undefined ? {} : { model: options.model }),
      ...(options.prefetch === undefined ? {} : { prefetch: options.prefetch })
    })
  const python = yield* checkPython(config.python)
  const scorer = options.scorer ?? (yield* scorerLayer(config))
  const { onStart, proposer: _proposer, replayDir: _replayDir, model: _model, prefetch: _prefetch, runnerChoice, ...shared } = options
  return yield* Research.run({
    ...shared,
    dir,
    config,
    configModules: modules,
    proposer: chosen.layer,
    runner: options.runner ?? runnerLayer(config, runnerChoice),
    scorer,
    ...(onStart === undefined ? {} : {
      onStart: ({ where }) => onStart({ dir, where, proposer: { name: chosen.name, why: chosen.why }, python })
    })
  })
})

/** `run` from a plain script: SIGINT, SIGTERM and SIGHUP stop it cleanly and reject with `Signals.Interrupted`. */
export const runPromise = (options: RunOptions) => Signals.runPromise(run(options))
