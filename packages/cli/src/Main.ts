/**
 * The `autoresearch` command, run by `bin.ts` once the Node version is known to be new
 * enough. A research directory's config imports `@autoresearch/*`; where its project has
 * no copy installed, the CLI's own is used.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import { Command } from "effect/cli"
import { registerHooks } from "node:module"
import { cli } from "./Cli.ts"

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      if (!specifier.startsWith("@autoresearch/")) throw error
      return nextResolve(specifier, { ...context, parentURL: import.meta.url })
    }
  }
})

const report = (error: unknown) =>
  Effect.sync(() => {
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`autoresearch: error: ${message}\n`)
    process.exitCode = 1
  })

Command.run(cli, { version: "0.1.0" }).pipe(
  Effect.catchCause((cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.void
    const failure = Cause.findErrorOption(cause)
    if (failure._tag === "Some") {
      const error = failure.value as { _tag?: string }
      // effect/cli has already printed its own parse errors and help.
      if (typeof error._tag === "string" && ["ShowHelp", "UnrecognizedOption", "MissingOption", "MissingArgument", "UnexpectedArgument", "InvalidValue", "UnknownSubcommand", "ValidationError", "DuplicateOption"].includes(error._tag)) {
        const usageErrors = (error as { errors?: ReadonlyArray<unknown> }).errors ?? []
        return Effect.sync(() => { process.exitCode = error._tag === "ShowHelp" && usageErrors.length === 0 ? 0 : 2 })
      }
      return report(failure.value)
    }
    return report(Cause.squash(cause))
  }),
  Effect.onInterrupt(() =>
    Effect.sync(() => process.stderr.write("\nautoresearch: interrupted; run the same command again to resume\n"))
  ),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
