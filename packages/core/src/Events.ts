/**
 * The loop's events, published on a PubSub so that a progress display, a report or a
 * user's own script can follow a research run without the loop knowing about them.
 */
import { Context, Effect, Layer, PubSub, Stream } from "effect"
import type { Verdict } from "./Decision.ts"
import type { PhaseName } from "./Experiment.ts"
import type { JournalEntry } from "./JournalEntry.ts"
import type { NoiseFloor } from "./Noise.ts"
import type { Score } from "./Score.ts"
import type { Verification } from "./Verification.ts"

export type LoopEvent =
  /** Something a killed run left that opening the run repaired (a stale git lock, a half-made worktree, ...). */
  | { readonly _tag: "Repaired"; readonly what: string }
  /** The loop begins: `experiments` already in the journal (0 for a new run) and the best kept so far. */
  | { readonly _tag: "LoopStarted"; readonly experiments: number; readonly best: JournalEntry | undefined }
  /** Something the caller should know before the loop runs, e.g. uncommitted changes to mutable files. */
  | { readonly _tag: "Warned"; readonly what: string }
  /** `fresh`: the tag's earlier run, set aside (its refs, branch head and state files), in words. */
  | { readonly _tag: "SetAside"; readonly what: string }
  | { readonly _tag: "Prepared"; readonly fingerprint: string; readonly reused: boolean }
  | { readonly _tag: "ExperimentStarted"; readonly id: number; readonly description: string; readonly budgetSeconds: number }
  | {
    readonly _tag: "PhaseStarted"
    readonly id: number
    readonly phase: PhaseName
    /** Where the phase's log will be, absolute (`<runDir>/<phase>.log`, as the local runner writes it): for a live steps/s. */
    readonly log?: string
  }
  | { readonly _tag: "PhaseFinished"; readonly id: number; readonly phase: PhaseName; readonly seconds: number }
  | { readonly _tag: "Scored"; readonly id: number; readonly score: Score }
  | { readonly _tag: "Decided"; readonly id: number; readonly decision: Verdict; readonly entry: JournalEntry }
  | { readonly _tag: "NoiseRun"; readonly run: number; readonly of: number; readonly seed: number; readonly value: number | undefined }
  | { readonly _tag: "NoiseMeasured"; readonly noise: NoiseFloor; readonly threshold: number | undefined }
  | {
    readonly _tag: "VerifyRun"
    readonly role: "baseline" | "best"
    readonly id: number
    readonly seed: number
    readonly validation: number | undefined
    readonly test: number | undefined
  }
  | { readonly _tag: "Verified"; readonly verification: Verification }
  | { readonly _tag: "LoopFinished"; readonly reason: string; readonly best: JournalEntry | undefined }

export class LoopEvents extends Context.Service<LoopEvents, {
  readonly publish: (event: LoopEvent) => Effect.Effect<void>
  readonly subscribe: Stream.Stream<LoopEvent>
}>()("@autoresearch/core/LoopEvents") {
  static readonly layer = Layer.effect(
    LoopEvents,
    Effect.gen(function*() {
      const pubsub = yield* PubSub.unbounded<LoopEvent>({ replay: 16 })
      yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
      return LoopEvents.of({
        publish: (event) => PubSub.publish(pubsub, event).pipe(Effect.asVoid),
        subscribe: Stream.fromPubSub(pubsub)
      })
    })
  )
}
