/**
 * The loop's own budgets as pure arithmetic: how much is left of the experiment count,
 * the wall clock and the proposer's spending, and whether the loop must stop.
 */
import type { Budget } from "./Config.ts"

export interface Spent {
  /** Experiments in the journal, the baseline included. */
  readonly experiments: number
  readonly elapsedSeconds: number
  readonly usd: number
}

export interface Left {
  readonly experiments?: number
  readonly seconds?: number
  readonly usd?: number
}

export const budgetLeft = (budget: Budget, spent: Spent): Left => ({
  ...(budget.maxExperiments === undefined ? {} : { experiments: Math.max(0, budget.maxExperiments - spent.experiments) }),
  ...(budget.maxWallSeconds === undefined ? {} : { seconds: Math.max(0, budget.maxWallSeconds - spent.elapsedSeconds) }),
  ...(budget.maxCostUsd === undefined ? {} : { usd: Math.max(0, budget.maxCostUsd - spent.usd) })
})

/** The default start-up allowance of a train phase: half its grace, so the flag fires before the kill. */
export const defaultStartupSeconds = (graceSeconds: number) => graceSeconds / 2

/** Whether a train phase that took `trainSeconds` overran its budget and start-up allowance. */
export const overBudget = (trainSeconds: number, budget: { readonly experimentSeconds: number; readonly startupSeconds: number }): boolean =>
  trainSeconds > budget.experimentSeconds + budget.startupSeconds

/** Why the loop must stop before starting another experiment, or undefined to go on. */
export const stopReason = (budget: Budget, spent: Spent): string | undefined => {
  if (budget.maxExperiments !== undefined && spent.experiments >= budget.maxExperiments) {
    return `reached max experiments (${budget.maxExperiments})`
  }
  if (budget.maxWallSeconds !== undefined && spent.elapsedSeconds >= budget.maxWallSeconds) {
    return `reached max wall-clock (${budget.maxWallSeconds} s)`
  }
  if (budget.maxCostUsd !== undefined && spent.usd >= budget.maxCostUsd) {
    return `reached max cost ($${budget.maxCostUsd})`
  }
  return undefined
}
