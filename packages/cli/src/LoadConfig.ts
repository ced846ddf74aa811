/**
 * Loading `autoresearch.config.ts` from a research directory: found, imported (Node
 * strips the types), and validated, with an error that says which of these failed.
 */
import { ConfigError, resolveConfig, validateConfig, type ResolvedConfig } from "@autoresearch/core"
import { Effect, Result, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"

export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export const configNames = ["autoresearch.config.ts", "autoresearch.config.mjs", "autoresearch.config.js"]

export const loadConfig = Effect.fnUntraced(function*(dir: string) {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return yield* new CliError({ reason: `research directory not found: ${dir}` })
  }
  const file = configNames.map((name) => path.join(dir, name)).find((candidate) => fs.existsSync(candidate))
  if (file === undefined) {
    return yield* new CliError({ reason: `no autoresearch.config.ts in ${dir}` })
  }
  const module = yield* Effect.tryPromise({
    try: () => import(pathToFileURL(file).href) as Promise<{ default?: unknown }>,
    catch: (error) => error
  }).pipe(
    Effect.mapError((error) =>
      error instanceof ConfigError
        ? new ConfigError({ source: file, problems: error.problems })
        : new CliError({ reason: `cannot load ${file}: ${(error as Error).message?.split("\n")[0] ?? String(error)}` })
    )
  )
  if (module.default === undefined) {
    return yield* new CliError({ reason: `${file} has no default export (export default defineResearch({...}))` })
  }
  const validated = validateConfig(module.default, file)
  if (Result.isFailure(validated)) return yield* validated.failure
  return { file, config: resolveConfig(validated.success) satisfies ResolvedConfig }
})
