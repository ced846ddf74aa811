/**
 * The edit protocol between the loop and a model: one tool, `propose_experiment`, whose
 * input is a description, a hypothesis and search/replace edits. This module holds the
 * tool's definition as the model sees it and the pure decoding of what the model sent,
 * with the exact reason when it is not a usable proposal.
 */
import { Edit } from "@autoresearch/core"
import { Result, Schema, SchemaIssue } from "effect"

export const toolName = "propose_experiment"

export const toolDescription = [
  "Propose the next experiment: one idea, as edits to the mutable files.",
  "Each edit replaces the text `search` in file `path` with `replace`; `search` must occur exactly once in the file",
  "as it is now (copy it exactly, whitespace and indentation included, with enough lines to be unique).",
  "An edit whose `search` is empty replaces the whole file with `replace`.",
  "Edits to the same file apply in order. Only the mutable files may be edited, and each edited Python file must still parse."
].join(" ")

/** JSON Schema of the tool's input, for Anthropic `input_schema` and OpenAI `parameters`. */
export const inputSchema: {
  type: "object"
  properties: Record<string, unknown>
  required: Array<string>
  additionalProperties: boolean
} = {
  type: "object",
  properties: {
    description: {
      type: "string",
      description: "One line saying what this experiment changes, e.g. 'cosine learning-rate schedule with 5% warm-up'."
    },
    hypothesis: {
      type: "string",
      description: "Why it should improve the metric, in one or two sentences."
    },
    edits: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        properties: {
          path: { type: "string", description: "A mutable file, relative to the research directory." },
          search: { type: "string", description: "Exact text occurring once in the file; empty to replace the whole file." },
          replace: { type: "string", description: "The text that takes its place." }
        },
        required: ["path", "search", "replace"],
        additionalProperties: false
      }
    }
  },
  required: ["description", "hypothesis", "edits"],
  additionalProperties: false
}

const Input = Schema.Struct({
  description: Schema.String.check(Schema.isNonEmpty()),
  hypothesis: Schema.String,
  edits: Schema.Array(Edit).check(Schema.isMinLength(1))
})
export type ProposalInput = typeof Input.Type

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** A tool call's arguments as they arrived: parsed JSON, or the raw text that failed to parse. */
export type Arguments =
  | { readonly _tag: "Parsed"; readonly value: unknown }
  | { readonly _tag: "Unparsable"; readonly text: string; readonly error: string }

/** Parses an OpenAI-style arguments string. */
export const parseArguments = (text: string): Arguments => {
  try {
    return { _tag: "Parsed", value: JSON.parse(text) as unknown }
  } catch (error) {
    return { _tag: "Unparsable", text, error: (error as Error).message }
  }
}

/** The description as one line of at most 200 characters, for the journal and results.tsv. */
const oneLine = (text: string) => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > 200 ? `${line.slice(0, 197)}...` : line
}

/** Decodes the tool input into a proposal's fields, or says exactly what is wrong with it. */
export const decodeInput = (args: Arguments): Result.Result<ProposalInput, string> => {
  if (args._tag === "Unparsable") {
    return Result.fail(`the tool arguments are not valid JSON (${args.error}); send the input again as one JSON object`)
  }
  const decoded = Schema.decodeUnknownResult(Input)(args.value, { errors: "all" })
  if (Result.isFailure(decoded)) {
    const problems = formatter(decoded.failure.issue).issues.map((issue) => {
      const at = issue.path?.map((key) => (typeof key === "object" ? String(key.key) : String(key))).join(".")
      return `${at || "input"}: ${issue.message}`
    })
    return Result.fail(`the tool input does not match its schema: ${problems.join("; ")}`)
  }
  const description = oneLine(decoded.success.description)
  if (description === "") return Result.fail("the tool input does not match its schema: description: must not be blank")
  return Result.succeed({ ...decoded.success, description })
}

/** The tool result sent back when a proposal is rejected. */
export const rejection = (reason: string, turnsLeft: number) =>
  `Rejected: ${reason}. Nothing was run. Call ${toolName} again with corrected edits ` +
  `(${turnsLeft} ${turnsLeft === 1 ? "try" : "tries"} left).`

/** The message sent when the model answered without calling the tool. */
export const nudge = (turnsLeft: number) =>
  `You did not call ${toolName}. Every answer must be exactly one call to ${toolName} ` +
  `(${turnsLeft} ${turnsLeft === 1 ? "try" : "tries"} left).`

/** The answer to any further tool call in the same turn. */
export const ignoredCall = `Ignored: only the first ${toolName} call of a turn is considered.`
