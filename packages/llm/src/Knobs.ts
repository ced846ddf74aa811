/**
 * `# @knob` annotations: tunable constants in the mutable files, with the range a
 * researcher expects to be useful (`int 1..12`, `float 0..1`, `log 1e-4..1`,
 * `choice adam|sgd`). Pure functions parse them, map values to and from the unit
 * interval where the search works, and write a value back as an edit.
 */
import type { Edit } from "@autoresearch/core"

export type Domain =
  | { readonly _tag: "int"; readonly min: number; readonly max: number }
  | { readonly _tag: "float"; readonly min: number; readonly max: number }
  | { readonly _tag: "log"; readonly min: number; readonly max: number }
  | { readonly _tag: "choice"; readonly options: ReadonlyArray<string> }

export interface Knob {
  /** The constant's name, or `path:name` when two files use the same name. */
  readonly id: string
  readonly name: string
  readonly path: string
  /** The whole annotated line, as the edit's search text. */
  readonly line: string
  /** The value as written in the file. */
  readonly value: string
  readonly domain: Domain
}

export interface KnobProblem {
  readonly path: string
  readonly line: number
  readonly reason: string
}

/** Knob values by id, as they are written in code. */
export type Config = Readonly<Record<string, string>>

const annotated = /^(\s*)([A-Za-z_]\w*)(\s*=\s*)(.*?)(\s*#\s*@knob\b\s*(.*))$/
const range = /^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\.\.\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)$/

const parseDomain = (spec: string): Domain | string => {
  const [kind = "", ...rest] = spec.trim().split(/\s+/)
  const body = rest.join(" ")
  if (kind === "choice") {
    const options = body.split("|").map((option) => option.trim()).filter((option) => option !== "")
    return options.length >= 2 ? { _tag: "choice", options } : "a choice needs at least two options, e.g. `choice adam|sgd`"
  }
  if (kind !== "int" && kind !== "float" && kind !== "log") {
    return `unknown knob kind '${kind}' (int, float, log or choice)`
  }
  const bounds = range.exec(body.split(/\s+/)[0] ?? "")
  if (bounds === null) return `expected a range like \`${kind} 1..10\`, got '${body}'`
  const min = Number(bounds[1])
  const max = Number(bounds[2])
  if (!(min < max)) return `the range ${min}..${max} is empty`
  if (kind === "int" && !(Number.isInteger(min) && Number.isInteger(max))) return "an int range needs integer bounds"
  if (kind === "log" && min <= 0) return "a log range needs a positive lower bound"
  return { _tag: kind, min, max }
}

/** The knobs of the mutable files, and the annotations that could not be read. */
export const parseKnobs = (files: ReadonlyArray<{ readonly path: string; readonly content: string }>) => {
  const found: Array<Omit<Knob, "id">> = []
  const problems: Array<KnobProblem> = []
  for (const file of files) {
    file.content.split("\n").forEach((line, index) => {
      if (!/#\s*@knob\b/.test(line)) return
      const match = annotated.exec(line)
      if (match === null || match[4]!.trim() === "") {
        problems.push({ path: file.path, line: index + 1, reason: "expected `NAME = value  # @knob kind range`" })
        return
      }
      const domain = parseDomain(match[6]!)
      if (typeof domain === "string") {
        problems.push({ path: file.path, line: index + 1, reason: domain })
        return
      }
      found.push({ name: match[2]!, path: file.path, line, value: match[4]!.trim(), domain })
    })
  }
  const repeated = new Set(found.filter((knob, i) => found.findIndex((other) => other.name === knob.name) !== i).map((knob) => knob.name))
  const knobs: Array<Knob> = found.map((knob) => ({ ...knob, id: repeated.has(knob.name) ? `${knob.path}:${knob.name}` : knob.name }))
  return { knobs, problems }
}

const unquote = (text: string) => text.replace(/^(['"])(.*)\1$/, "$2")

/** One spelling per value, for telling configurations apart (`5e-2` and `0.05` are the same). */
export const canonical = (knob: Knob, value: string): string => {
  if (knob.domain._tag === "choice") return unquote(value.trim())
  const number = Number(value)
  if (!Number.isFinite(number)) return value.trim()
  return knob.domain._tag === "int" ? String(Math.round(number)) : String(number)
}

export const configOf = (knobs: ReadonlyArray<Knob>): Config => Object.fromEntries(knobs.map((knob) => [knob.id, knob.value]))

/** A key that is equal for equal configurations. */
export const configKey = (knobs: ReadonlyArray<Knob>, config: Config) =>
  knobs.map((knob) => `${knob.id}=${canonical(knob, config[knob.id] ?? knob.value)}`).join(",")

const clamp01 = (u: number) => Math.min(1, Math.max(0, u))

/** Where a numeric value lies in its range, from 0 to 1 (clamped); a choice's index. */
export const toUnit = (knob: Knob, value: string): number => {
  const domain = knob.domain
  if (domain._tag === "choice") return Math.max(0, domain.options.findIndex((option) => unquote(option) === unquote(value.trim())))
  const number = Number(value)
  if (!Number.isFinite(number)) return 0.5
  if (domain._tag === "log") {
    return number <= 0 ? 0 : clamp01(Math.log(number / domain.min) / Math.log(domain.max / domain.min))
  }
  return clamp01((number - domain.min) / (domain.max - domain.min))
}

/** A float in 3 significant digits that stays a float in Python (`2.0`, not `2`). */
const floatLiteral = (value: number) => {
  const text = String(Number(value.toPrecision(3)))
  return /[.eE]/.test(text) ? text : `${text}.0`
}

/** The value at `u` in the knob's range, written as code; for a choice, `u` is the index. */
export const fromUnit = (knob: Knob, u: number): string => {
  const domain = knob.domain
  switch (domain._tag) {
    case "choice": {
      const option = domain.options[Math.min(domain.options.length - 1, Math.max(0, Math.round(u)))]!
      const quote = /^['"]/.exec(knob.value)?.[0]
      return quote !== undefined && !/^['"]/.test(option) ? `${quote}${option}${quote}` : option
    }
    case "int":
      return String(Math.round(domain.min + clamp01(u) * (domain.max - domain.min)))
    case "float":
      return floatLiteral(domain.min + clamp01(u) * (domain.max - domain.min))
    case "log":
      return floatLiteral(domain.min * (domain.max / domain.min) ** clamp01(u))
  }
}

/** The edit that sets a knob to `value`, keeping the rest of its line. */
export const knobEdit = (knob: Knob, value: string): Edit => {
  const match = annotated.exec(knob.line)!
  return { path: knob.path, search: knob.line, replace: `${match[1]}${match[2]}${match[3]}${value}${match[5]}` }
}
