/**
 * The research context as text for a model, in three parts ordered from stable to
 * volatile so that prompt caching covers as much as possible: the instructions and
 * program.md (fixed for a research run), the mutable files at the ratchet's head (fixed
 * until the next keep), and the situation (journal, failure, budgets; new every call).
 */
import { bestEntry, type JournalEntry, type MetricSpec, type ResearchContext } from "@autoresearch/core"
import { toolName } from "./ProposalTool.ts"

export interface PromptParts {
  readonly instructions: string
  readonly files: string
  readonly situation: string
}

const better = (metric: MetricSpec) => (metric.direction === "max" ? "higher" : "lower")

/** A number in at most 6 significant digits, without trailing zeros. */
export const formatNumber = (value: number) => (Number.isFinite(value) ? String(Number(value.toPrecision(6))) : String(value))

/** A Markdown code fence longer than any run of backticks in `text`. */
const fenced = (text: string, language = "") => {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length))
  const fence = "`".repeat(longest + 1)
  return `${fence}${language}\n${text}${text.endsWith("\n") ? "" : "\n"}${fence}`
}

const languageOf = (file: string) => (file.endsWith(".py") ? "python" : file.endsWith(".ts") ? "ts" : "")

export const instructions = (context: Pick<ResearchContext, "program" | "metric" | "files">) =>
  [
    "You are the proposer of an autonomous research loop. Each experiment you propose is applied to the",
    "mutable files, trained under a fixed time budget, then scored by trusted code on held-out data. It is kept",
    `(committed as the new best) only if \`${context.metric.name}\` improves (${better(context.metric)} is better)` +
    (context.metric.minDelta ? ` by more than ${context.metric.minDelta}` : "") + "; otherwise it is discarded.",
    "",
    `Answer every request with exactly one call to the tool \`${toolName}\`:`,
    "- one idea per experiment, small enough that its result says whether the idea works;",
    "- read the journal first and do not repeat what was tried, unless you change something essential;",
    "- an edit's `search` must occur exactly once in the file as shown (copy it exactly, indentation included);",
    "  an empty `search` replaces the whole file;",
    `- only these files may be edited: ${context.files.map((file) => file.path).join(", ")};`,
    "- `# @knob` comments mark tunable constants with the range a researcher expects to be useful:",
    "  `int a..b`, `float a..b`, `log a..b` (log-uniform), `choice x|y|z`.",
    "An edit that does not apply comes back as the tool's result with the reason; correct it and call the tool again.",
    "",
    "# Research program (program.md)",
    "",
    context.program.trim() === "" ? "(none)" : context.program.trim()
  ].join("\n")

export const files = (context: Pick<ResearchContext, "files">) =>
  [
    "# The mutable files at the current best commit",
    ...context.files.map((file) => `\n## ${file.path}\n\n${fenced(file.content, languageOf(file.path))}`)
  ].join("\n")

const bestValue = (entries: ReadonlyArray<JournalEntry>, metric: MetricSpec) => bestEntry(entries, metric)?.metrics[metric.name]

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s+/g, " ").trim()

/** The whole journal as a compact table: id, status, metric, difference to the best, description. */
export const journalTable = (entries: ReadonlyArray<JournalEntry>, metric: MetricSpec) => {
  if (entries.length === 0) return "# Journal\n\n(no experiments yet)"
  const best = bestValue(entries, metric)
  const rows = entries.map((entry) => {
    const value = entry.metrics[metric.name]
    const delta = value === undefined || best === undefined
      ? ""
      : value === best
      ? "best"
      : `${value - best > 0 ? "+" : ""}${formatNumber(value - best)}`
    const why = entry.status === "keep" || entry.status === "discard" || entry.reason === undefined
      ? ""
      : ` (${cell(entry.reason).slice(0, 120)})`
    const shown = value === undefined ? "" : formatNumber(value)
    return `| ${entry.id} | ${entry.status} | ${shown} | ${delta} | ${cell(entry.description).slice(0, 120)}${why} |`
  })
  return [
    `# Journal (${entries.length} experiments; ${metric.name}, ${better(metric)} is better; best ${
      best === undefined ? "none yet" : formatNumber(best)
    })`,
    "",
    `| id | status | ${metric.name} | vs best | description |`,
    "|---|---|---|---|---|",
    ...rows
  ].join("\n")
}

export const situation = (context: ResearchContext) => {
  const parts = [journalTable(context.journal, context.metric)]
  const running = context.inFlight ?? []
  if (running.length > 0) {
    parts.push(
      "# Running now (results not known yet; do not propose the same)\n\n" +
        running.map((proposal) => `- ${proposal.description}`).join("\n")
    )
  }
  if (context.lastFailure !== undefined) {
    const failure = context.lastFailure
    parts.push(
      `# Last failure: experiment ${failure.id}, ${failure.status}: ${failure.reason}\n\n` +
        (failure.logTail.trim() === "" ? "(no log)" : `Tail of its training log:\n\n${fenced(failure.logTail)}`)
    )
  }
  const left = [
    context.left.experiments === undefined ? undefined : `${context.left.experiments} experiments`,
    context.left.seconds === undefined ? undefined : `${Math.round(context.left.seconds)} s of wall clock`,
    context.left.usd === undefined ? undefined : `$${context.left.usd.toFixed(2)} of proposer spending`
  ].filter((item) => item !== undefined)
  parts.push(`# Budget left\n\n${left.length === 0 ? "no limit set" : left.join(", ")}`)
  parts.push(`Propose the next experiment now, by calling \`${toolName}\`.`)
  return parts.join("\n\n")
}

export const render = (context: ResearchContext): PromptParts => ({
  instructions: instructions(context),
  files: files(context),
  situation: situation(context)
})
