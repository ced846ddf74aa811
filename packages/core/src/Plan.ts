/**
 * What each phase of a research run may see and do, as pure functions of the config:
 * the data cache's layout, and the prepare, train and predict phases with their
 * commands, time limits, environments and the paths they may read or write.
 */
import * as path from "node:path"
import type { ResolvedConfig } from "./Config.ts"
import type { Phase } from "./Experiment.ts"

/**
 * The data cache: `train` for train, `inputs` for predict, `hidden` for the scorer only.
 * `test` (optional) holds a test split laid out like the cache itself (`test/inputs`,
 * `test/hidden`, and any reference the scorer reads): no experiment sees it; only
 * `verify` predicts on its inputs and scores against its targets.
 */
export const cacheLayout = (cacheDir: string) => ({
  train: path.join(cacheDir, "train"),
  inputs: path.join(cacheDir, "inputs"),
  hidden: path.join(cacheDir, "hidden"),
  test: path.join(cacheDir, "test")
})
export type CacheLayout = ReturnType<typeof cacheLayout>

type PlanConfig = Pick<ResolvedConfig, "python" | "phases" | "budget" | "seed">

/** The prepare phase: builds the cache from the raw `sources`, which only it may read. */
export const preparePhase = (config: PlanConfig, cacheDir: string, sources: ReadonlyArray<string>): Phase | undefined =>
  config.phases.prepare === undefined ? undefined : {
    name: "prepare",
    command: [...config.python, ...config.phases.prepare],
    timeoutSeconds: config.budget.prepareSeconds,
    env: { AUTORESEARCH_CACHE_DIR: cacheDir, AUTORESEARCH_SEED: String(config.seed) },
    readable: sources,
    writable: [cacheDir]
  }

/** Train (the candidate's code, on the training split), then predict (trusted, on the validation inputs). */
export const experimentPhases = (config: PlanConfig, cache: CacheLayout, runDir: string, seed: number): Array<Phase> => {
  const env = {
    AUTORESEARCH_RUN_DIR: runDir,
    AUTORESEARCH_SEED: String(seed),
    AUTORESEARCH_BUDGET_SECONDS: String(config.budget.experimentSeconds)
  }
  return [
    {
      name: "train",
      command: [...config.python, ...config.phases.train],
      timeoutSeconds: config.budget.experimentSeconds + config.budget.graceSeconds,
      env: { ...env, AUTORESEARCH_DATA_DIR: cache.train },
      readable: [cache.train],
      writable: []
    },
    ...(config.phases.predict === undefined ? [] : [{
      name: "predict" as const,
      command: [...config.python, ...config.phases.predict],
      timeoutSeconds: config.budget.predictSeconds,
      env: { ...env, AUTORESEARCH_INPUTS_DIR: cache.inputs },
      readable: [cache.inputs],
      writable: []
    }])
  ]
}
