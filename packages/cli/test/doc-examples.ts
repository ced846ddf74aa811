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
 *   `autoresearch <command> --help` lists;
 * - `<!-- doc-test: usage -->`: shell lines a user types: each `autoresearch` command (also
 *   as `npx autoresearch` or `node packages/cli/dist/bin.js`, after `VAR=value`) must be
 *   one the CLI has, with only flags its --help lists; each `./dev X` one the dev script
 *   has; `git`, `npx nx` and `export` lines pass as they are;
 * - `<!-- doc-test: fragment NAME -->`: a TypeScript fragment, type-checked inside the
 *   wrapper NAME of `fragments` (e.g. `scoring`: options of PsnrGatedScorer);
 * - `<!-- doc-test: json NAME -->`: JSON that decodes as NAME (`proposal`: a proposal);
 * - `<!-- doc-test: knobs -->`: `# @knob` lines that KnobProposer reads without a problem;
 * - `<!-- doc-test: illustration -->`: not an example of use (a tree, sample output, a
 *   format's outline): nothing to run, marked so that every block says what it is.
 *
 * Every fenced block of these pages carries a marker (`unmarkedBlocks`).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { repoRoot } from "./fixtures.ts"

export type Kind = "file" | "run" | "output" | "install" | "synopsis" | "usage" | "fragment" | "json" | "knobs" | "illustration"

export interface Example {
  readonly page: string
  /** 1-based line of the marker. */
  readonly line: number
  readonly kind: Kind
  /** For `file`: the path in the scratch project. */
  readonly name?: string
  readonly text: string
}

/** The pages whose examples are checked: the README, docs/*.md, the packages' and the examples' READMEs. */
export const pages = (): Array<string> => [
  "README.md",
  ...fs.readdirSync(path.join(repoRoot, "docs")).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`),
  ...fs.readdirSync(path.join(repoRoot, "packages")).sort()
    .map((name) => `packages/${name}/README.md`)
    .filter((page) => fs.existsSync(path.join(repoRoot, page))),
  ...fs.readdirSync(path.join(repoRoot, "examples")).sort()
    .map((name) => `examples/${name}/README.md`)
    .filter((page) => fs.existsSync(path.join(repoRoot, page)))
]

const kinds: ReadonlyArray<string> = ["file", "run", "output", "install", "synopsis", "usage", "fragment", "json", "knobs", "illustration"]

/** What a `fragment NAME` is wrapped in to type-check: it declares what the wrapper uses. */
export const fragments: Readonly<Record<string, { readonly before: string; readonly after: string }>> = {
  scoring: {
    before: `import { PsnrGatedScorer } from "@autoresearch/metrics"\n`,
    after: `export const spec = PsnrGatedScorer.metricSpec(scoring)\nexport const layer = PsnrGatedScorer.layer(scoring)\n`
  }
}

const marker = /^<!-- doc-test: (\S+)(?: (.+?))? -->$/
const fenceOpen = /^\s*(`{3,}|~{3,})/

/** The fenced blocks of a page without a marker on the line before: `page:line` of each. */
export const unmarkedBlocks = (page: string): Array<string> => {
  const lines = fs.readFileSync(path.join(repoRoot, page), "utf8").split("\n")
  const unmarked: Array<string> = []
  for (let index = 0; index < lines.length; index++) {
    const open = fenceOpen.exec(lines[index]!)
    if (open === null) continue
    if (index === 0 || !marker.test(lines[index - 1]!.trim())) unmarked.push(`${page}:${index + 1}`)
    const close = lines.findIndex((line, at) => at > index && line.trim() === open[1])
    index = close === -1 ? lines.length : close
  }
  return unmarked
}

/** Every marked example of a page, or an error that says which marker is malformed and where. */
export const examplesOf = (page: string): Array<Example> => {
  const lines = fs.readFileSync(path.join(repoRoot, page), "utf8").split("\n")
  const found: Array<Example> = []
  lines.forEach((text, index) => {
    const marked = marker.exec(text.trim())
    if (marked === null) {
      if (text.includes("doc-test")) throw new Error(`${page}:${index + 1}: a doc-test marker must be a line of its own: ${text}`)
      return
    }
    const [, kind, argument] = marked
    const where = `${page}:${index + 1}`
    if (!kinds.includes(kind!)) throw new Error(`${where}: unknown doc-test kind '${kind}' (${kinds.join(", ")})`)
    if (kind === "file" && argument === undefined) throw new Error(`${where}: doc-test: file needs a file name`)
    if (kind === "fragment" && !(argument! in fragments)) throw new Error(`${where}: doc-test: fragment needs one of ${Object.keys(fragments).join(", ")}`)
    if (kind === "json" && argument === undefined) throw new Error(`${where}: doc-test: json needs what it decodes as`)
    const fence = /^\s*(`{3,})\S*\s*$/.exec(lines[index + 1] ?? "")
    if (fence === null) throw new Error(`${where}: a doc-test marker must be followed by a fenced block`)
    const end = lines.findIndex((line, at) => at > index + 1 && line.trim() === fence[1])
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
