/**
 * A Scorer that runs a trusted, immutable command (e.g. `python prepare.py score`) which
 * compares the run's predictions with the hidden targets and prints its metrics as JSON.
 * Numbers the experiment printed are read from its train log and only compared.
 */
import { Effect, Layer, Schema } from "effect"
import { type Flag, reportedByTrain, Scorer, ScorerError, type Score, TrustedCommand } from "@autoresearch/core"
import * as path from "node:path"

export interface CommandScorerOptions {
  /** Full argv of the scoring command; it runs in the research directory. */
  readonly command: ReadonlyArray<string>
  /** Name of the primary metric, checked against what the experiment printed. */
  readonly metric: string
  /** A printed value further than this from the scorer's own flags `metric-mismatch`. */
  readonly tolerance?: { readonly absolute?: number; readonly relative?: number }
  readonly timeoutSeconds?: number
}

/** What the command prints on its last line of standard output. */
const Output = Schema.Struct({
  status: Schema.optional(Schema.Literals(["ok", "invalid"])),
  reason: Schema.optional(Schema.String),
  metrics: Schema.Record(Schema.String, Schema.Number),
  gate: Schema.optional(Schema.Struct({ name: Schema.String, value: Schema.Number }))
})
const decodeOutput = Schema.decodeUnknownSync(Schema.fromJsonString(Output))

/** Flags a printed value that disagrees with the computed one beyond the tolerance. */
export const mismatch = (
  reported: number | undefined,
  computed: number | undefined,
  tolerance: CommandScorerOptions["tolerance"] = {}
): boolean => {
  if (reported === undefined || computed === undefined) return false
  const allowed = Math.max(tolerance.absolute ?? 0, (tolerance.relative ?? 0.01) * Math.abs(computed))
  return !(Math.abs(reported - computed) <= allowed)
}

export const make = (options: CommandScorerOptions) =>
  Scorer.of({
    name: "command",
    score: (input) =>
      TrustedCommand.run({
        argv: options.command,
        cwd: input.experiment.workdir,
        timeoutSeconds: options.timeoutSeconds ?? 300,
        // Beside the run directories, where every later run looks for what a killed one left.
        recordDir: path.dirname(input.run.runDir),
        env: {
          PATH: process.env.PATH ?? "",
          PYTHONDONTWRITEBYTECODE: "1",
          AUTORESEARCH_RUN_DIR: input.run.runDir,
          AUTORESEARCH_HIDDEN_DIR: input.hiddenDir,
          AUTORESEARCH_CACHE_DIR: input.cacheDir
        }
      }).pipe(
        Effect.flatMap((exit) => {
          const failed = (detail: string) =>
            Effect.fail(new ScorerError({ scorer: "command", reason: `${options.command.join(" ")} failed: ${detail}` }))
          if (exit.spawnError !== undefined) return failed(exit.spawnError)
          if (exit.timedOut) return failed(`timed out after ${options.timeoutSeconds ?? 300} s`)
          if (exit.overflowed) return failed("it printed more than 16 MiB")
          if (exit.exitCode !== 0) {
            return failed(exit.stderr.trim().split("\n").at(-1) || `exit ${exit.exitCode ?? exit.signal}`)
          }
          return Effect.succeed(exit.stdout)
        }),
        Effect.flatMap((stdout) =>
          Effect.try({
            try: () => decodeOutput(stdout.trim().split("\n").at(-1) ?? ""),
            catch: (error) =>
              new ScorerError({ scorer: "command", reason: `${options.command.join(" ")} printed no valid JSON: ${String(error)}` })
          })
        ),
        Effect.map((output): Score => {
          const reported = reportedByTrain(input.run)
          const flags: Array<Flag> = mismatch(reported[options.metric], output.metrics[options.metric], options.tolerance)
            ? ["metric-mismatch"]
            : []
          const primary = output.metrics[options.metric]
          const status = output.status ?? (primary === undefined || !Number.isFinite(primary) ? "invalid" : "ok")
          return {
            status,
            ...(output.reason === undefined
              ? status === "invalid" ? { reason: `no finite ${options.metric} in ${path.basename(options.command.at(-1)!)}'s output` } : {}
              : { reason: output.reason }),
            metrics: output.metrics,
            reported,
            ...(output.gate === undefined ? {} : { gate: output.gate }),
            flags
          }
        })
      )
  })

export const layer = (options: CommandScorerOptions) => Layer.succeed(Scorer, make(options))
