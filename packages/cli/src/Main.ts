/**
 * The `autoresearch` command, run by `bin.ts` once the Node version is known to be new
 * enough. A research directory's config imports `@autoresearch/*`; where its project has
 * no copy installed, the CLI's own is used. SIGINT, SIGTERM and SIGHUP interrupt the
 * command, so that its finalizers run (the phase killed, the lock released); so does a
 * closed stdout or stderr (`autoresearch run ... | head -2`), quietly.
 */
import { Signals } from "@autoresearch/core"
import { NodeServices } from "@effect/platform-node"
import { Cause, Effect, Runtime } from "effect"
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

/** Set once stdout or stderr is gone (EPIPE): nothing more is printed, and the exit is quiet. */
let outputClosed = false

/** The exit status of a command whose reader went away, as for a process killed by SIGPIPE. */
const closedPipeStatus = 141

/**
 * NodeRuntime.runMain, with SIGHUP (a closed terminal or SSH session) as a third stop
 * signal, and a write error on stdout or stderr taken as a request to stop, not thrown.
 */
const runMain = Runtime.makeRunMain(({ fiber, teardown }) => {
  let stopped = false
  const stop = () => {
    stopped = true
    fiber.interruptUnsafe(fiber.id)
  }
  const signals = Signals.stopSignals
  // Kept after the command ends: a late EPIPE from the last write must not surface as an error.
  const onOutputError = () => {
    outputClosed = true
    stop()
  }
  process.stdout.on("error", onOutputError)
  process.stderr.on("error", onOutputError)
  fiber.addObserver((exit) => {
    for (const signal of signals) process.removeListener(signal, stop)
    teardown(exit, (code) => {
      if (outputClosed) process.exit(closedPipeStatus)
      if (stopped || code !== 0) process.exit(code)
    })
  })
  for (const signal of signals) process.on(signal, stop)
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
    Effect.sync(() => {
      if (outputClosed) return
      // Ctrl-C is how a live page is stopped: nothing to resume.
      process.stderr.write(process.argv[2] === "serve" ? "\nautoresearch: stopped serving\n" : "\nautoresearch: interrupted; run the same command again to resume\n")
    })
  ),
  Effect.provide(NodeServices.layer),
  runMain
)
