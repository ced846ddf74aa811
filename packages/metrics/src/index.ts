/**
 * @autoresearch/metrics: metrics and scorers. `CommandScorer` runs a trusted scoring
 * command and compares what the experiment printed with what it computed.
 */
export * as CommandScorer from "./CommandScorer.ts"
