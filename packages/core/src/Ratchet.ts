/**
 * The Ratchet service: moves git and nothing else. It turns a candidate into a commit,
 * keeps it (the branch stays on it) or discards it (the branch goes back to its parent),
 * as `decide` (Decision.ts) said. A discarded commit stays reachable, so no idea is lost.
 */
import { Context, Schema } from "effect"
import type { Effect } from "effect"

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
  /** Keeps the candidate just committed: the branch stays on it, the checkout is cleaned. */
  readonly keep: Effect.Effect<void, GitError>
  /** Sets a commit aside under `refs/autoresearch/<tag>/discarded/<id>` and resets the branch to `parent`. */
  readonly discard: (id: number, commit: string, parent: string) => Effect.Effect<void, GitError>
  /** Sets a commit aside under `refs/autoresearch/<tag>/<label>` and resets the branch to `parent`. */
  readonly setAside: (label: string, commit: string, parent: string) => Effect.Effect<void, GitError>
  /** Puts the research checkout back on the branch, at its head, removing untracked files. */
  readonly restore: Effect.Effect<void, GitError>
  /** Puts the research checkout at `commit`, off the branch (for `verify`); `restore` goes back. */
  readonly checkout: (commit: string) => Effect.Effect<void, GitError>
}>()("@autoresearch/core/Ratchet") {}
