/**
 * Prefetch: a Proposer wrapper that asks for the next proposal as soon as one is handed
 * out, so that the model thinks while the experiment trains and the GPU does not wait
 * for it. The next call re-checks the prepared edits against the ratchet's head as it is
 * then: if the incumbent moved and they still apply, they are used on the new head; if
 * they no longer apply, the proposal is made again, and the wasted call's cost is added
 * to the new one's.
 */
import {
  addCost,
  type Proposal,
  Proposer,
  type ProposerError,
  type ProposerExhausted,
  type ResearchContext,
  zeroCost
} from "@autoresearch/core"
import { Effect, Exit, Fiber, Layer } from "effect"

type Files = ResearchContext["files"]

/**
 * Why prepared edits must not be used on the current head without a check: a whole-file
 * replacement was written against a file that has changed since (it would undo the keep).
 */
export const staleReplacement = (edits: Proposal["edits"], before: Files, now: Files): string | undefined => {
  const contentOf = (files: Files, file: string) => files.find((candidate) => candidate.path === file)?.content
  const stale = edits.find((edit) => edit.search === "" && contentOf(before, edit.path) !== contentOf(now, edit.path))
  return stale === undefined ? undefined : `${stale.path}: replaces the whole file, which changed since it was written`
}

export const make = Effect.fnUntraced(function*(inner: Proposer["Service"]) {
  const scope = yield* Effect.scope
  let prepared: {
    readonly fiber: Fiber.Fiber<Proposal, ProposerError | ProposerExhausted>
    /** The head it was prepared on, and the proposal that was running then. */
    readonly files: Files
    readonly running: Proposal
  } | undefined
  // Registered before any fork, so it runs after the pending call was interrupted: say what was paid for nothing.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      if (prepared === undefined) return
      const exit = yield* Effect.exit(Fiber.join(prepared.fiber))
      if (Exit.isSuccess(exit) && (exit.value.cost?.usd ?? 0) > 0) {
        yield* Effect.logWarning(`prefetch: a prepared proposal was not used; it cost $${exit.value.cost!.usd.toFixed(4)}`)
      }
    })
  )

  /** Starts the next proposal from a snapshot of `context` with `proposal` running. */
  const prepareNext = (context: ResearchContext, proposal: Proposal) =>
    Effect.gen(function*() {
      const experimentsAfter = context.left.experiments === undefined ? undefined : context.left.experiments - 1
      if (experimentsAfter !== undefined && experimentsAfter <= 0) return
      // The running proposal is paid for but not yet in the journal; another of its price must still fit.
      const spent = proposal.cost?.usd ?? 0
      const usdAfter = context.left.usd === undefined ? undefined : context.left.usd - spent
      if (usdAfter !== undefined && usdAfter < Math.max(spent, Number.EPSILON)) return
      const snapshot: ResearchContext = {
        ...context,
        left: {
          ...context.left,
          ...(experimentsAfter === undefined ? {} : { experiments: experimentsAfter }),
          ...(usdAfter === undefined ? {} : { usd: usdAfter })
        },
        // context.check checks against context.files, not the disk, which holds the running candidate.
        inFlight: [proposal]
      }
      const fiber = yield* Effect.forkIn(inner.propose(snapshot), scope)
      prepared = { fiber, files: context.files, running: proposal }
    })

  const propose = Effect.fnUntraced(function*(context: ResearchContext) {
    let wasted = zeroCost
    const ready = prepared
    prepared = undefined
    if (ready !== undefined) {
      const exit = yield* Effect.exit(Fiber.join(ready.fiber))
      if (Exit.isSuccess(exit)) {
        const proposal = exit.value
        const repeats = JSON.stringify(proposal.edits) === JSON.stringify(ready.running.edits)
        const rejected = (repeats ? "it repeats the experiment that was running" : undefined) ??
          staleReplacement(proposal.edits, ready.files, context.files) ??
          (yield* Effect.match(context.check(proposal.edits), {
            onSuccess: () => undefined,
            onFailure: (error) => error.message
          }))
        if (rejected === undefined) {
          yield* prepareNext(context, proposal)
          return proposal
        }
        wasted = proposal.cost ?? zeroCost
        yield* Effect.logInfo(`prefetch: the prepared proposal no longer applies (${rejected}); proposing again`)
      }
    }
    const fresh = yield* inner.propose(context)
    const proposal = wasted === zeroCost ? fresh : { ...fresh, cost: addCost(fresh.cost ?? zeroCost, wasted) }
    yield* prepareNext(context, proposal)
    return proposal
  })

  return Proposer.of({ name: inner.name, propose })
})

/** Wraps the proposer that `inner` builds; pending work is interrupted when the layer is released. */
export const layer = <E, R>(inner: Effect.Effect<Proposer["Service"], E, R>) =>
  Layer.effect(Proposer, Effect.flatMap(inner, make))
