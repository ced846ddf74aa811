/**
 * The Workspace service: the research directory inside the research worktree. It knows
 * which files are mutable, applies edits to those only (with a syntax check), reads the
 * proposer's instructions, and seals the immutable files.
 */
import { Context, Effect, Layer, Result } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type { ResolvedConfig } from "./Config.ts"
import { applyEdits, EditRejected, normalisePath } from "./Edits.ts"
import type { Edit } from "./Proposal.ts"
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

const readText = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")

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
  Effect.callback<string | undefined>((resume) => {
    const child = execFile(
      python[0]!,
      [...python.slice(1), "-c", parseScript, file],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        if (!error) return resume(Effect.succeed(undefined))
        const said = `${stdout}\n${stderr}`.trim().split("\n").filter((line) => line.trim() !== "").at(-1)
        resume(Effect.succeed(said ?? error.message))
      }
    )
    child.stdin?.end(source)
    return Effect.sync(() => child.kill("SIGKILL"))
  })

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
            for (const [file, content] of changed) {
              fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
              fs.writeFileSync(path.join(dir, file), content)
            }
          })
        ),
        Effect.asVoid
      ),
    seal: (trees = {}) => Effect.sync(() => sealOf(dir, config.immutable, trees))
  })
}
