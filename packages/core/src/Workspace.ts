/**
 * The Workspace service: the research directory inside the research worktree. It knows
 * which files are mutable, applies edits to those only (with a syntax check), reads the
 * proposer's instructions, and seals the immutable files.
 */
import { Context, Effect, Layer, Result } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Command from "./Command.ts"
import type { ResolvedConfig } from "./Config.ts"
import { applyEdits, EditRejected, normalisePath } from "./Edits.ts"
import type { Edit } from "./Proposal.ts"
import { lstat, readRegularFile } from "./SafeRead.ts"
import { sealOf, type Seal } from "./Seal.ts"

export interface FileContent {
  readonly path: string
  readonly content: string
}

export class Workspace extends Context.Service<Workspace, {
  readonly dir: string
  readonly mutable: ReadonlyArray<string>
  readonly immutable: ReadonlyArray<string>
  readonly files: Effect.Effect<ReadonlyArray<FileContent>>
  readonly program: Effect.Effect<string>
  /**
   * Validates edits without writing: mutable paths only, exactly-once matches, syntax;
   * against the mutable files on disk, or against `files` (a snapshot) when given.
   */
  readonly check: (edits: ReadonlyArray<Edit>, files?: ReadonlyArray<FileContent>) => Effect.Effect<Map<string, string>, EditRejected>
  /** Checks, then writes the edited files. */
  readonly apply: (edits: ReadonlyArray<Edit>) => Effect.Effect<void, EditRejected>
  /** Seals the immutable files and the given directories (e.g. the data cache). */
  readonly seal: (trees?: Readonly<Record<string, string>>) => Effect.Effect<Seal>
}>()("@autoresearch/core/Workspace") {
  static readonly layer = (dir: string, config: Parameters<typeof makeWorkspace>[1]) => Layer.succeed(Workspace, makeWorkspace(dir, config))
}

/** The largest research file read (a mutable file, program.md); past it, the text is cut. */
const maxFileBytes = 16 * 1024 * 1024

/**
 * A research file's text. The worktree is where phases run, so whatever was planted at
 * the path is read as SafeRead reads it: a FIFO, a device or a symbolic link reads as
 * empty (as a missing file does), never blocks the loop nor leads out of the worktree.
 */
const readText = (file: string) => {
  const read = readRegularFile(file, maxFileBytes)
  return read._tag === "Text" ? read.text : ""
}

/**
 * Writes a research file through a temporary file renamed into place: whatever stood at
 * the path (a FIFO, whose open for writing would wait for a reader; a symbolic link,
 * which would be written through) is replaced, not opened.
 */
const writeText = (file: string, content: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  try {
    fs.rmSync(temporary, { force: true })
    fs.writeFileSync(temporary, content, { flag: "wx" })
    // A regular file keeps its mode (an executable script stays executable).
    const before = lstat(file)
    if (before?.isFile() === true) fs.chmodSync(temporary, before.mode & 0o7777)
    fs.renameSync(temporary, file)
  } catch (error) {
    fs.rmSync(temporary, { force: true })
    throw error
  }
}

const parseScript = [
  "import ast, sys",
  "try:",
  "    ast.parse(sys.stdin.read(), sys.argv[1])",
  "except SyntaxError as e:",
  "    print(f'{type(e).__name__}: {e.msg} ({e.filename}, line {e.lineno})')",
  "    sys.exit(1)"
].join("\n")

/** Parses Python source with the configured interpreter; returns the syntax error, if any. */
const pythonSyntaxError = (python: ReadonlyArray<string>, file: string, source: string) =>
  Command.run(python[0]!, [...python.slice(1), "-c", parseScript, file], { timeoutMs: 30_000, input: source }).pipe(
    Effect.map((output) => {
      if (Command.succeeded(output)) return undefined
      const said = `${output.stdout}\n${output.stderr}`.trim().split("\n").filter((line) => line.trim() !== "").at(-1)
      return said ?? (output.killed ? "the syntax check timed out" : `the syntax check exited with ${output.exitCode ?? output.signal}`)
    }),
    Effect.catchTag("CommandError", (error) => Effect.succeed(error.message))
  )

export const makeWorkspace = (dir: string, config: Pick<ResolvedConfig, "mutable" | "immutable" | "program" | "python" | "syntaxCheck">) => {
  const mutable = config.mutable.map(normalisePath)
  const readMutable = () => new Map(mutable.map((file) => [file, readText(path.join(dir, file))]))
  const check = (edits: ReadonlyArray<Edit>, files?: ReadonlyArray<FileContent>) =>
    Effect.gen(function*() {
      const changed = applyEdits(files === undefined ? readMutable() : new Map(files.map((file) => [file.path, file.content])), edits)
      if (Result.isFailure(changed)) return yield* changed.failure
      if (config.syntaxCheck === "python") {
        for (const [file, content] of changed.success) {
          if (!file.endsWith(".py")) continue
          const problem = yield* pythonSyntaxError(config.python, file, content)
          if (problem) return yield* new EditRejected({ path: file, reason: `syntax check failed: ${problem}` })
        }
      }
      return changed.success
    })
  return Workspace.of({
    dir,
    mutable,
    immutable: config.immutable,
    files: Effect.sync(() => [...readMutable()].map(([file, content]) => ({ path: file, content }))),
    program: Effect.sync(() => (config.program ? readText(path.join(dir, config.program)) : "")),
    check,
    apply: (edits) =>
      check(edits).pipe(
        Effect.tap((changed) =>
          Effect.sync(() => {
            for (const [file, content] of changed) writeText(path.join(dir, file), content)
          })
        ),
        Effect.asVoid
      ),
    seal: (trees = {}) => Effect.sync(() => sealOf(dir, config.immutable, trees))
  })
}
