/**
 * Loading `autoresearch.config.ts` from a research directory: found, imported (Node
 * strips the types), and validated, with an error that says which of these failed (and,
 * for a syntax error, where: file, line and column).
 */
import { type Budget, ConfigError, resolveConfig, validateConfig, type ResolvedConfig } from "@autoresearch/core"
import { Effect, Result, Schema } from "effect"
import * as fs from "node:fs"
import { registerHooks, type ResolveHookContext, type ResolveHookSync } from "node:module"
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

/** `effect` and its subpaths (`effect/unstable/cli`): the library every Layer is made of. */
const isEffect = (specifier: string) => specifier === "effect" || specifier.startsWith("effect/")

/** A module of the user's own (a config, a plug-in), not one installed as a package. */
const isUsersOwn = (url: string | undefined) =>
  url !== undefined && url.startsWith("file:") && !fileURLToPath(url).split(path.sep).includes("node_modules")

/**
 * Installs the resolve hook that configs are imported under. It records, for a config
 * being imported, every module it reaches through relative or absolute paths,
 * transitively: its own plug-ins, wherever they are. Packages (bare specifiers) and what
 * they import are not recorded. It also resolves, for the user's own modules,
 * `@autoresearch/*` to the CLI's copy where their project has none, and `effect` always
 * to the copy that `@autoresearch/core` uses: a plug-in is a Layer, and a Layer made with
 * another copy of Effect is not one the SDK can use (nor is its project required to have
 * Effect installed at all).
 */
const installHooks = () => {
  if (hooked) return
  hooked = true
  const sdkResolve = (specifier: string, context: ResolveHookContext, nextResolve: Parameters<ResolveHookSync>[2]) => {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (!specifier.startsWith("@autoresearch/")) throw error
      return nextResolve(specifier, { ...context, parentURL: import.meta.url })
    }
  }
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = isEffect(specifier) && isUsersOwn(context.parentURL)
        ? nextResolve(specifier, { ...context, parentURL: sdkResolve("@autoresearch/core", context, nextResolve).url })
        : sdkResolve(specifier, context, nextResolve)
      const local = specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("file:")
      if (local && resolved.url.startsWith("file:") && context.parentURL !== undefined) {
        for (const modules of importedBy.values()) if (modules.has(context.parentURL)) modules.add(resolved.url)
      }
      return resolved
    }
  })
}

/** This package's siblings: frames in them are the CLI's, not the user's. */
const ownPackages = path.resolve(import.meta.dirname, "../..")

const fromUrl = (file: string) => (file.startsWith("file://") ? fileURLToPath(file) : file)

/**
 * Where a module failed to load, as `file:line:column`: for a syntax error, from the
 * excerpt Node puts at the top of its stack (`file:line`, the line, a caret under the
 * column); otherwise the first stack frame in a file of the user's.
 */
const errorLocation = (error: unknown): string | undefined => {
  const stack = error instanceof Error && typeof error.stack === "string" ? error.stack.split("\n") : []
  if (error instanceof SyntaxError) {
    const header = /^(.+):(\d+)$/.exec(stack[0] ?? "")
    const caret = stack.findIndex((line) => /^\s*\^+\s*$/.test(line))
    if (header !== null) return `${fromUrl(header[1]!)}:${header[2]}${caret > 1 ? `:${stack[caret]!.indexOf("^") + 1}` : ""}`
  }
  for (const line of stack) {
    const frame = /(file:\/\/[^\s()]+):(\d+):(\d+)\)?\s*$/.exec(line)
    if (frame === null) continue
    const where = fromUrl(frame[1]!)
    if (!where.split(path.sep).includes("node_modules") && !where.startsWith(ownPackages + path.sep)) return `${where}:${frame[2]}:${frame[3]}`
  }
  return undefined
}

/** Why importing the config failed, with the file, line and column where Node says. */
const loadFailure = (file: string, error: unknown) => {
  const message = error instanceof Error ? error.message.split("\n")[0] : String(error)
  const location = errorLocation(error)
  if (location === undefined) return `cannot load ${file}: ${message}`
  return location.startsWith(`${file}:`) ? `cannot load ${location}: ${message}` : `cannot load ${file}: ${location}: ${message}`
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
  installHooks()
  if (!importedBy.has(url)) importedBy.set(url, new Set([url]))
  const module = yield* Effect.tryPromise({
    try: () => import(url) as Promise<{ default?: unknown }>,
    catch: (error) => error
  }).pipe(
    Effect.mapError((error) =>
      error instanceof ConfigError
        ? new ConfigError({ source: file, problems: error.problems })
        : new CliError({ reason: loadFailure(file, error) })
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
