/**
 * The research configuration: what `autoresearch.config.ts` exports through
 * `defineResearch`. It names the mutable and immutable files, the phases, the metric and
 * the budgets, and is validated with messages that name the field and the reason.
 */
import { Layer, Result, Schema, SchemaIssue } from "effect"
import { defaultStartupSeconds } from "./Budgets.ts"
import { normalisePath } from "./Edits.ts"
import type { Proposer } from "./Proposer.ts"
import type { Runner } from "./Runner.ts"
import type { Scorer } from "./Scorer.ts"

const Seconds = Schema.Number.check(Schema.isGreaterThan(0))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Command = Schema.Array(Schema.String).check(Schema.isMinLength(1))
const RelativePath = Schema.String.check(
  Schema.makeFilter((path: string) =>
    path.length > 0 && !path.startsWith("/") && !path.split(/[\\/]/).includes("..")
      ? undefined
      : "Expected a path relative to the research directory, without '..'"
  )
)

export const MetricSpec = Schema.Struct({
  /** Name of the primary metric the scorer computes, e.g. `val_psnr`. */
  name: Schema.NonEmptyString,
  direction: Schema.Literals(["max", "min"]),
  /**
   * A candidate must beat the incumbent by more than this. A number, or `"auto"`: twice the
   * standard deviation measured over the baseline's noise runs (`budget.noiseRuns`).
   */
  minDelta: Schema.optional(Schema.Union([Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), Schema.Literal("auto")])),
  /** Further metrics shown in results.tsv, e.g. `val_ssim`. */
  secondary: Schema.optional(Schema.Array(Schema.String))
})
export type MetricSpec = typeof MetricSpec.Type

export const Budget = Schema.Struct({
  /** Training time each experiment gets; the runner enforces it from outside. */
  experimentSeconds: Seconds,
  /** Extra time past the budget before the runner kills training. */
  graceSeconds: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /**
   * Seconds the train phase may run past `experimentSeconds` for start-up and saving; past
   * that (but inside the grace), the run is voided with the flag `budget-exceeded`.
   * Default: half the grace, so that the flag can fire before the runner kills training.
   */
  startupSeconds: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /** GPU memory (GB) each experiment may use, passed to it as `AUTORESEARCH_VRAM_GB`. */
  vramGb: Schema.optional(Schema.Number.check(Schema.isGreaterThan(0))),
  /** Limit for the prepare phase (run once per research run). */
  prepareSeconds: Schema.optional(Seconds),
  /** Limit for the predict phase. */
  predictSeconds: Schema.optional(Seconds),
  /** Experiments in the journal, the baseline included, after which the loop stops. */
  maxExperiments: Schema.optional(Count),
  /** Wall-clock seconds for one invocation of the loop. */
  maxWallSeconds: Schema.optional(Seconds),
  /** Proposer spending (USD) over the whole research run. */
  maxCostUsd: Schema.optional(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Extra runs with new seeds a candidate must pass before a keep counts; the decision uses their mean. */
  confirmRuns: Schema.optional(Count),
  /**
   * Extra trainings of the unchanged baseline, each with its own seed, that measure the
   * noise floor at the start of a research run (0: none). `metric.minDelta: "auto"` needs 2 or more.
   */
  noiseRuns: Schema.optional(Count),
  /**
   * Fresh seeds `verify` trains the best and the baseline with at the end of a run, where
   * the data cache has a test split (default 2; 0: no verify at the end).
   */
  verifySeeds: Schema.optional(Count),
  /** Host memory (GB) each phase may use; the runner caps it (default: three quarters of the host's RAM). */
  memoryGb: Schema.optional(Schema.Number.check(Schema.isGreaterThan(0))),
  /** Processes and threads each phase may have at once (default 4096). */
  maxProcesses: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
  /** Size (GB) the run directory of an experiment may reach (default 20). */
  runDirGb: Schema.optional(Schema.Number.check(Schema.isGreaterThan(0))),
  /**
   * CPU threads each phase may use, set as `AUTORESEARCH_THREADS`, `OMP_NUM_THREADS` and
   * `MKL_NUM_THREADS` (default: unset, so the phase uses every core it may run on).
   */
  threads: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0))),
  /**
   * Experiments in flight at once (default 1). Each has its own worktree and run directory
   * and a slot of the machine: a GPU from the runner's pool, and a share of the CPU cores
   * (`threads` unset: the cores divided among them). See docs/architecture.md, "Parallel experiments".
   */
  workers: Schema.optional(Schema.Int.check(Schema.isGreaterThan(0)))
})
export type Budget = typeof Budget.Type

export const Phases = Schema.Struct({
  /** Builds the data cache once per research run (trusted, immutable). */
  prepare: Schema.optional(Command),
  /** Trains the candidate (mutable code). */
  train: Command,
  /** Writes predictions from the trained model (trusted, immutable). */
  predict: Schema.optional(Command),
  /** Computes metrics from predictions and hidden targets (trusted); used by the command scorer. */
  score: Schema.optional(Command)
})
export type Phases = typeof Phases.Type

/** A plug-in is an Effect layer that provides one service and needs nothing else. */
const plugin = <S>(expected: string) =>
  Schema.declare((u: unknown): u is Layer.Layer<S, unknown> => Layer.isLayer(u), { expected })

const ResearchFields = {
  name: Schema.optional(Schema.NonEmptyString),
  /** The interpreter that runs each phase's command, e.g. `python3` or `["uv", "run", "python"]`. */
  python: Schema.optional(Schema.Union([Schema.NonEmptyString, Command])),
  mutable: Schema.Array(RelativePath).check(Schema.isMinLength(1)),
  immutable: Schema.optional(Schema.Array(RelativePath)),
  /** Folders of raw data the prepare phase reads (read-only), relative to the research directory or absolute. */
  sources: Schema.optional(Schema.Array(Schema.NonEmptyString)),
  /** Instructions for the proposer. */
  program: Schema.optional(RelativePath),
  phases: Phases,
  metric: MetricSpec,
  budget: Budget,
  seed: Schema.optional(Schema.Int),
  /** `python` parses each mutable .py file before an edit is accepted; `none` skips it. */
  syntaxCheck: Schema.optional(Schema.Literals(["python", "none"])),
  /** Optional plug-ins (Effect layers) that replace the defaults. */
  runner: Schema.optional(plugin<Runner>("a Runner layer")),
  scorer: Schema.optional(plugin<Scorer>("a Scorer layer")),
  proposer: Schema.optional(plugin<Proposer>("a Proposer layer"))
}

export const ResearchConfig = Schema.Struct(ResearchFields)
export type ResearchConfig = typeof ResearchConfig.Type

export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  /** Where the config came from (a file path, or `defineResearch`). */
  source: Schema.String,
  problems: Schema.Array(Schema.Struct({ field: Schema.String, reason: Schema.String }))
}) {
  override get message() {
    return `invalid research config (${this.source}): ` +
      this.problems.map((p) => `${p.field}: ${p.reason}`).join("; ")
  }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Files no proposal may change, whatever the config lists: the config itself and the proposer's instructions. */
const alwaysImmutable = (program: string | undefined) => [...(program === undefined ? [] : [program]), "autoresearch.config.ts"]

/** Validates an unknown value as a research config; pure, so it is used by both `defineResearch` and the CLI. */
export const validateConfig = (input: unknown, source: string): Result.Result<ResearchConfig, ConfigError> => {
  const decoded = Schema.decodeUnknownResult(ResearchConfig)(input, { errors: "all", onExcessProperty: "error" })
  if (Result.isSuccess(decoded)) {
    // One spelling of each path from here on ("./train.py" is "train.py").
    const config = {
      ...decoded.success,
      mutable: decoded.success.mutable.map(normalisePath),
      ...(decoded.success.immutable === undefined ? {} : { immutable: decoded.success.immutable.map(normalisePath) }),
      ...(decoded.success.program === undefined ? {} : { program: normalisePath(decoded.success.program) })
    }
    if (config.metric.minDelta === "auto" && (config.budget.noiseRuns ?? 0) < 2) {
      return Result.fail(
        new ConfigError({
          source,
          problems: [{ field: "metric.minDelta", reason: `"auto" sets the threshold from the noise floor: it needs budget.noiseRuns of 2 or more` }]
        })
      )
    }
    const always = alwaysImmutable(config.program)
    const overlap = config.mutable.filter((file) => config.immutable?.includes(file) || always.includes(file))
    if (overlap.length > 0) {
      return Result.fail(
        new ConfigError({
          source,
          problems: overlap.map((file) => ({
            field: "mutable",
            reason: always.includes(file) ? `${file} is always immutable` : `${file} is also listed as immutable`
          }))
        })
      )
    }
    return Result.succeed(config)
  }
  const problems = formatter(decoded.failure.issue).issues.map((issue) => ({
    field: issue.path?.map((key) => (typeof key === "object" ? String(key.key) : String(key))).join(".") || "(root)",
    reason: issue.message
  }))
  return Result.fail(new ConfigError({ source, problems }))
}

/** For `autoresearch.config.ts`: validates at import time, so a bad config fails where it is written. */
export const defineResearch = (config: typeof ResearchConfig.Encoded): ResearchConfig => {
  const result = validateConfig(config, "defineResearch")
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/** The values a config leaves out, filled in once so the rest of the code never guesses. */
export const resolveConfig = (config: ResearchConfig) => {
  const grace = config.budget.graceSeconds ?? Math.max(5, config.budget.experimentSeconds * 0.1)
  return {
  ...config,
  python: config.python === undefined ? ["python3"] : typeof config.python === "string" ? [config.python] : [...config.python],
  immutable: [...new Set([...(config.immutable ?? []), ...alwaysImmutable(config.program)])],
  metric: { ...config.metric, minDelta: config.metric.minDelta ?? 0, secondary: config.metric.secondary ?? [] },
  budget: {
    ...config.budget,
    graceSeconds: grace,
    startupSeconds: config.budget.startupSeconds ?? defaultStartupSeconds(grace),
    prepareSeconds: config.budget.prepareSeconds ?? 1800,
    predictSeconds: config.budget.predictSeconds ?? 300,
    confirmRuns: config.budget.confirmRuns ?? 0,
    noiseRuns: config.budget.noiseRuns ?? 0,
    verifySeeds: config.budget.verifySeeds ?? 2
  },
  seed: config.seed ?? 0,
  sources: config.sources ?? [],
  syntaxCheck: config.syntaxCheck ?? "python"
  }
}
export type ResolvedConfig = ReturnType<typeof resolveConfig>
