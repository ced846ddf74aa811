/**
 * Loading `autoresearch.config.ts` from a research directory: found, imported (Node
 * strips the types), and validated, with an error that says which of these failed.
 */
import { type Budget, ConfigError, resolveConfig, validateConfig, type ResolvedConfig } from "@autoresearch/core"
import { Effect, Result, Schema } from "effect"
import * as fs from "node:fs"
import { registerHooks } from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

export class CliError extends Schema.TaggedError<CliError>()("CliError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/** The config file: always TypeScript, and always one of the files the ratchet keeps immutable. */
export const configName = "autoresearch.config.ts"

/** The tag a research directory's runs get when none is given: the directory's name. */
export const defaultTag = (dir: string) => path.basename(path.resolve(dir)).replace(/[^A-Za-z0-9._-]/g, "-")

/** The local modules each config imported (by the config's URL), while its import runs and after. */
const importedBy = new Map<string, Set<string>>()
let hooked = false

/**
 * Records, for a config being imported, every module it reaches through relative or
 * absolute paths, transitively: its own plug-ins, wherever they are. Packages (bare
 * specifiers) and what they import are not recorded.
 */
const recordImports = () => {
  if (hooked) return
  hooked = true
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context)
      const local = specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:")
      if (local && resolved.url.startsWith("file:") && context.parentURL !== undefined) {
        for (const modules of importedBy.values()) if (modules.has(context.parentURL)) modules.add(resolved.url)
      }
      return resolved
    }
  })
}

/**
 * Loads, validates and resolves the config in `dir`. `budget` overrides the config's own
 * (flags such as --budget) before the defaults derived from it, such as the grace, are set.
 */
export const loadConfig = Effect.fnUntraced(function*(dir: string, budget: Partial<Budget> = {}) {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return yield* new CliError({ reason: `research directory not found: ${dir}` })
  }
  const file = path.join(dir, configName)
  if (!fs.existsSync(file)) {
    return yield* new CliError({ reason: `no ${configName} in ${dir}` })
  }
  const url = pathToFileURL(file).href
  recordImports()
  if (!importedBy.has(url)) importedBy.set(url, new Set([url]))
  const module = yield* Effect.tryPromise({
    try: () => import(url) as Promise<{ default?: unknown }>,
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
  const config = { ...validated.success, budget: { ...validated.success.budget, ...budget } }
  /** The local modules the config imports (absolute paths), which the run seals. */
  const modules = [...importedBy.get(url)!].filter((imported) => imported !== url).map((imported) => fileURLToPath(imported))
  return { file, config: resolveConfig(config) satisfies ResolvedConfig, modules }
})
