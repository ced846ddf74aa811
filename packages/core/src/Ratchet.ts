/**
 * The Ratchet service: turns a candidate into a commit, decides keep or discard with the
 * pure keep rule, and moves the research branch accordingly. A discarded commit stays
 * reachable, so no idea is ever lost.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"
import type { Candidate, Decision } from "./KeepRule.ts"

export class GitError extends Schema.TaggedError<GitError>()("GitError", {
  command: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `git ${this.command}: ${this.reason}`
  }
}

export class Ratchet extends Context.Service<Ratchet, {
  /** The research branch's head: the incumbent. */
  readonly head: Effect.Effect<string, GitError>
  /** Commits every change in the research checkout as the candidate; returns its hash. */
  readonly commit: (message: string) => Effect.Effect<string, GitError>
  /** Applies the keep rule and moves the branch: keep advances it, discard resets it. */
  readonly decide: (input: {
    readonly id: number
    readonly commit: string
    readonly parent: string
    readonly candidate: Candidate
    readonly incumbent: number | undefined
    /** The keep threshold in force: `metric.minDelta`, or the measured one when it is `"auto"`. */
    readonly minDelta: number
  }) => Effect.Effect<Decision, GitError>
  /** Sets a commit aside under `refs/autoresearch/<tag>/discarded/<id>` and resets the branch to `parent`. */
  readonly discard: (id: number, commit: string, parent: string) => Effect.Effect<void, GitError>
  /** Sets a commit aside under `refs/autoresearch/<tag>/<label>` and resets the branch to `parent`. */
  readonly setAside: (label: string, commit: string, parent: string) => Effect.Effect<void, GitError>
  /** Puts the research checkout back on the branch, at its head, removing untracked files. */
  readonly restore: Effect.Effect<void, GitError>
  /** Puts the research checkout at `commit`, off the branch (for `verify`); `restore` goes back. */
  readonly checkout: (commit: string) => Effect.Effect<void, GitError>
}>()("@autoresearch/core/Ratchet") {}
