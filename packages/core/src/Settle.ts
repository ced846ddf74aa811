/**
 * The stale-parent rule of parallel experiments, as a pure function. Each experiment is
 * built on the research branch's head as it was when the experiment started (its parent)
 * and decided against the incumbent of that moment. When it ends, another worker may
 * have moved the branch. The branch stays linear and every kept commit was measured
 * exactly as committed, so:
 *
 * - a keep whose parent is still the head advances the branch to it;
 * - a keep whose parent went stale is not kept on a measurement made on an old parent:
 *   its edits are re-applied onto the new head and measured again, as a new experiment
 *   that records which one it came from (at most `maxReapplications` times in a chain);
 * - anything else is set aside as the decision said (discarded, crashed, invalid).
 */

/** How many times one proposal is re-applied onto a moved head before it is set aside. */
export const maxReapplications = 2

export interface SettleInput {
  /** What the decision against the incumbent the experiment started from said. */
  readonly keep: boolean
  /** The commit the experiment was built on. */
  readonly parent: string
  /** The research branch's head now. */
  readonly head: string
  /** How many re-applications led to this experiment (0 for a fresh proposal). */
  readonly reapplied: number
}

export type Settlement =
  /** The branch moves from `parent` (its head) to the candidate. */
  | { readonly _tag: "Advance" }
  /** Beat the incumbent it started from, but the head moved: measure its edits again on the head. */
  | { readonly _tag: "Reapply"; readonly reason: string }
  /** Set aside: not better, failed, or stale once too often. `reason`, when set, replaces the decision's. */
  | { readonly _tag: "SetAside"; readonly reason?: string }

export const settle = (input: SettleInput): Settlement => {
  if (!input.keep) return { _tag: "SetAside" }
  if (input.parent === input.head) return { _tag: "Advance" }
  const stale = `beat the incumbent it started from, but the branch moved on to ${input.head.slice(0, 12)} while it ran`
  return input.reapplied < maxReapplications
    ? { _tag: "Reapply", reason: `${stale}: its edits are measured again on the new head` }
    : { _tag: "SetAside", reason: `${stale}, after ${input.reapplied} re-applications: set aside` }
}
