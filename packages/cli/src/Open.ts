/**
 * What every command that trains needs before it starts (`run`, `noise`, `verify`): the
 * config loaded, the run's paths, the checkout checked, Python found, and the runner and
 * scorer plug-ins chosen, with the config's caps passed to the local runner.
 */
import { Command as ShortCommand, Research, type ResolvedConfig } from "@autoresearch/core"
import { CommandScorer } from "@autoresearch/metrics"
import { LocalRunner, SlurmRunner } from "@autoresearch/runners"
import { Effect, Option } from "effect"
import * as path from "node:path"
import { CliError, defaultTag, loadConfig } from "./LoadConfig.ts"

export const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** A path as the user would type it from here: relative below the current directory, else absolute. */
export const shown = (file: string) => (file.startsWith(process.cwd() + path.sep) ? path.relative(process.cwd(), file) : file)

export const checkPython = (python: ReadonlyArray<string>) =>
  ShortCommand.run(python[0]!, [...python.slice(1), "--version"], { timeoutMs: 30_000 }).pipe(
    Effect.flatMap((output) => ShortCommand.succeeded(output) ? Effect.succeed(output.stdout.trim()) : Effect.fail(output)),
    Effect.mapError(() =>
      new CliError({ reason: `python not found: '${python.join(" ")}' (install it, or set \`python\` in autoresearch.config.ts)` })
    )
  )

/** The config's scorer, else a CommandScorer running `phases.score`. */
export const scorerLayer = (config: ResolvedConfig) => {
  if (config.scorer !== undefined) return Effect.succeed(config.scorer)
  if (config.phases.score !== undefined) {
    return Effect.succeed(CommandScorer.layer({ command: [...config.python, ...config.phases.score], metric: config.metric.name }))
  }
  return Effect.fail(new CliError({ reason: "no scorer: set `phases.score` or `scorer` in autoresearch.config.ts" }))
}

/** LocalRunner's options from the config: its VRAM budget and host caps. */
export const localOptions = (config: ResolvedConfig): LocalRunner.LocalRunnerOptions => ({
  ...(config.budget.vramGb === undefined ? {} : { vramBudgetGb: config.budget.vramGb }),
  ...(config.budget.memoryGb === undefined ? {} : { memoryGb: config.budget.memoryGb }),
  ...(config.budget.maxProcesses === undefined ? {} : { maxProcesses: config.budget.maxProcesses }),
  ...(config.budget.runDirGb === undefined ? {} : { runDirGb: config.budget.runDirGb }),
  ...(config.budget.threads === undefined ? {} : { threads: config.budget.threads })
})

export type RunnerChoice = "config" | "local" | "slurm"

/**
 * The runner: `config` takes the config's own, else the local one with the config's caps;
 * `local` the local one whatever the config says; `slurm` a SlurmRunner with its defaults,
 * each phase run on its node by a local runner with the config's caps (a config sets
 * partition, account or GPUs with `runner: SlurmRunner.layer({ ... })`).
 */
export const runnerLayer = (config: ResolvedConfig, choice: RunnerChoice = "config") =>
  choice === "slurm"
    ? SlurmRunner.layer({ local: localOptions(config) })
    : choice === "config" && config.runner !== undefined
    ? config.runner
    : LocalRunner.layer(localOptions(config))

/**
 * Loads and checks everything a training command needs; prints the checkout's warnings.
 * Writes nothing in the run's state: a refused start leaves none behind.
 */
export const open = Effect.fnUntraced(function*(
  input: { readonly dir: string; readonly tag: Option.Option<string> },
  budget: Parameters<typeof loadConfig>[1] = {}
) {
  const dir = path.resolve(input.dir)
  const { config, modules } = yield* loadConfig(dir, budget)
  const tag = Option.getOrElse(input.tag, () => defaultTag(dir))
  const where = yield* Research.paths(dir, tag)
  const warnings = yield* Research.checkCheckout(where, config, modules)
  for (const warning of warnings) yield* write(`warning: ${warning}\n`)
  const version = yield* checkPython(config.python)
  const scorer = yield* scorerLayer(config)
  return { dir, tag, config, modules, where, version, scorer, runner: runnerLayer(config) }
})
