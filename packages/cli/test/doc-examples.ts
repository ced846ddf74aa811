/**
 * The examples the documentation marks as runnable. A marker is an HTML comment on the
 * line before a fenced block:
 *
 * - `<!-- doc-test: file NAME -->`: the block is the file NAME of one scratch project that
 *   holds every such file of every page; TypeScript files are type-checked together
 *   against the built packages, configs are validated, and pack.test.ts runs the research
 *   they make up from installed tarballs;
 * - `<!-- doc-test: run -->`: a shell block run with bash in that project (after every
 *   file is written), which must succeed;
 * - `<!-- doc-test: output -->`: right after a `run` block, what it prints, exactly;
 * - `<!-- doc-test: install -->`: the install commands, run by pack.test.ts;
 * - `<!-- doc-test: synopsis -->`: a command per line, whose flags must be the ones
 *   `autoresearch <command> --help` lists.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "./fixtures.ts"

export type Kind = "file" | "run" | "output" | "install" | "synopsis"

export interface Example {
  readonly page: string
  /** 1-based line of the marker. */
  readonly line: number
  readonly kind: Kind
  /** For `file`: the path in the scratch project. */
  readonly name?: string
  readonly text: string
}

/** The pages whose examples are checked: the README, docs/*.md and the packages' READMEs. */
export const pages = (): Array<string> => [
  "README.md",
  ...fs.readdirSync(path.join(repoRoot, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`),
  ...fs.readdirSync(path.join(repoRoot, "packages")).sort()
    .map((name) => `packages/${name}/README.md`)
    .filter((page) => fs.existsSync(path.join(repoRoot, page)))
]

const kinds: ReadonlyArray<string> = ["file", "run", "output", "install", "synopsis"]

/** Every marked example of a page, or an error that says which marker is malformed and where. */
export const examplesOf = (page: string): Array<Example> => {
  const lines = fs.readFileSync(path.join(repoRoot, page), "utf8").split("\n")
  const found: Array<Example> = []
  lines.forEach((text, index) => {
    const marker = /^<!-- doc-test: (\S+)(?: (.+?))? -->$/.exec(text.trim())
    if (marker === null) {
      if (text.includes("doc-test")) throw new Error(`${page}:${index + 1}: a doc-test marker must be a line of its own: ${text}`)
      return
    }
    const [, kind, argument] = marker
    const where = `${page}:${index + 1}`
    if (!kinds.includes(kind!)) throw new Error(`${where}: unknown doc-test kind '${kind}' (${kinds.join(", ")})`)
    if (kind === "file" && argument === undefined) throw new Error(`${where}: doc-test: file needs a file name`)
    const fence = /^(`{3,})\S*\s*$/.exec(lines[index + 1] ?? "")
    if (fence === null) throw new Error(`${where}: a doc-test marker must be followed by a fenced block`)
    const end = lines.findIndex((line, at) => at > index + 1 && line.trimEnd() === fence[1])
    if (end === -1) throw new Error(`${where}: the fenced block is not closed`)
    if (kind === "output" && found.at(-1)?.kind !== "run") throw new Error(`${where}: an output block must follow a run block`)
    found.push({
      page,
      line: index + 1,
      kind: kind as Kind,
      ...(argument === undefined ? {} : { name: argument }),
      text: lines.slice(index + 2, end).join("\n") + "\n"
    })
  })
  return found
}

export const allExamples = (): Array<Example> => pages().flatMap(examplesOf)

/** The `file` examples by name; a name shown twice is an error. */
export const docFiles = (examples: ReadonlyArray<Example> = allExamples()): Map<string, Example> => {
  const files = new Map<string, Example>()
  for (const example of examples) {
    if (example.kind !== "file") continue
    const earlier = files.get(example.name!)
    if (earlier !== undefined) {
      throw new Error(`${example.page}:${example.line}: ${example.name} is shown already at ${earlier.page}:${earlier.line}`)
    }
    files.set(example.name!, example)
  }
  return files
}

/** Writes the `file` examples under `dir`. */
export const writeDocFiles = (dir: string, files: ReadonlyMap<string, Example>, only?: (name: string) => boolean) => {
  for (const [name, example] of files) {
    if (only !== undefined && !only(name)) continue
    const target = path.join(dir, name)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, example.text)
  }
}
