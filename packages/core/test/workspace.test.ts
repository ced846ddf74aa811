import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EditRejected } from "../src/Edits.ts"
import { makeWorkspace, Workspace } from "../src/Workspace.ts"

type WorkspaceConfig = Parameters<typeof makeWorkspace>[1]

const trainSource = "lr = 0.01\n\ndef train():\n    return lr\n"
const modelSource = "layers = 2\n"

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "workspace-test-"))
  fs.writeFileSync(path.join(dir, "train.py"), trainSource)
  fs.writeFileSync(path.join(dir, "model.py"), modelSource)
  fs.writeFileSync(path.join(dir, "notes.txt"), "plain text\n")
  fs.writeFileSync(path.join(dir, "prepare.py"), "print('prepare')\n")
  fs.writeFileSync(path.join(dir, "program.md"), "# Improve val_mse\n")
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const config = (overrides: Partial<WorkspaceConfig> = {}): WorkspaceConfig => ({
  mutable: ["train.py", "model.py", "notes.txt"],
  immutable: ["prepare.py", "program.md", "autoresearch.config.ts"],
  program: "program.md",
  python: ["python3"],
  syntaxCheck: "python",
  ...overrides
})

const read = (file: string) => fs.readFileSync(path.join(dir, file), "utf8")

describe("Workspace", () => {
  it.live("exposes its directory and file lists", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      assert.strictEqual(workspace.dir, dir)
      assert.deepStrictEqual(workspace.mutable, ["train.py", "model.py", "notes.txt"])
      assert.deepStrictEqual(workspace.immutable, ["prepare.py", "program.md", "autoresearch.config.ts"])
    }))

  it.live("reads the mutable files, a missing one as empty", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config({ mutable: ["train.py", "model.py", "later.py"] }))
      assert.deepStrictEqual(yield* workspace.files, [
        { path: "train.py", content: trainSource },
        { path: "model.py", content: modelSource },
        { path: "later.py", content: "" }
      ])
      fs.writeFileSync(path.join(dir, "model.py"), "layers = 9\n")
      assert.strictEqual((yield* workspace.files)[1]!.content, "layers = 9\n")
    }))

  it.live("reads the program, or nothing when there is none", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* makeWorkspace(dir, config()).program, "# Improve val_mse\n")
      assert.strictEqual(yield* makeWorkspace(dir, config({ program: undefined })).program, "")
      assert.strictEqual(yield* makeWorkspace(dir, config({ program: "absent.md" })).program, "")
    }))

  it.live("apply writes the edited mutable files and leaves the others alone", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      yield* workspace.apply([
        { path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" },
        { path: "notes.txt", search: "", replace: "new notes\n" }
      ])
      assert.strictEqual(read("train.py"), "lr = 0.02\n\ndef train():\n    return lr\n")
      assert.strictEqual(read("notes.txt"), "new notes\n")
      assert.strictEqual(read("model.py"), modelSource)
      assert.strictEqual(read("prepare.py"), "print('prepare')\n")
    }))

  it.live("apply creates a mutable file that did not exist yet", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config({ mutable: ["train.py", "extra.py"] }))
      yield* workspace.apply([{ path: "extra.py", search: "", replace: "x = 1\n" }])
      assert.strictEqual(read("extra.py"), "x = 1\n")
    }))

  it.live("check returns the new contents without writing", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const changed = yield* workspace.check([{ path: "model.py", search: "2", replace: "3" }])
      assert.deepStrictEqual([...changed], [["model.py", "layers = 3\n"]])
      assert.strictEqual(read("model.py"), modelSource)
    }))

  it.live("rejects a Python syntax error with the interpreter's message and leaves the file unchanged", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const error = yield* Effect.flip(workspace.apply([{ path: "train.py", search: "def train():", replace: "def train(:" }]))
      assert.instanceOf(error, EditRejected)
      assert.strictEqual(error.path, "train.py")
      assert.include(error.reason, "syntax check failed")
      assert.include(error.reason, "SyntaxError")
      assert.strictEqual(read("train.py"), trainSource)
    }))

  it.live("names the edited file and line of a syntax error", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const error = yield* Effect.flip(workspace.check([{ path: "train.py", search: "def train():", replace: "def train(:" }]))
      assert.include(error.reason, "train.py, line 3")
    }))

  it.live("writes nothing when any edited .py file fails the syntax check", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const error = yield* Effect.flip(workspace.apply([
        { path: "model.py", search: "layers = 2", replace: "layers = 4" },
        { path: "train.py", search: "    return lr", replace: "  return lr\n      oops" }
      ]))
      assert.strictEqual(error.path, "train.py")
      assert.include(error.reason, "Error")
      assert.strictEqual(read("model.py"), modelSource)
      assert.strictEqual(read("train.py"), trainSource)
    }))

  it.live("does not syntax-check files that are not .py", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      yield* workspace.apply([{ path: "notes.txt", search: "", replace: "def (:\n" }])
      assert.strictEqual(read("notes.txt"), "def (:\n")
    }))

  it.live("skips the syntax check when syntaxCheck is none", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config({ syntaxCheck: "none", python: ["/nonexistent/python"] }))
      yield* workspace.apply([{ path: "train.py", search: "def train():", replace: "def train(:" }])
      assert.include(read("train.py"), "def train(:")
    }))

  it.live("rejects an edit to an immutable file and leaves it unchanged", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const error = yield* Effect.flip(workspace.apply([{ path: "prepare.py", search: "", replace: "print('evil')\n" }]))
      assert.instanceOf(error, EditRejected)
      assert.strictEqual(error.path, "prepare.py")
      assert.include(error.reason, "not a mutable file")
      assert.strictEqual(read("prepare.py"), "print('prepare')\n")
    }))

  it.live("rejects the whole proposal when one edit targets an immutable file", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      yield* Effect.flip(workspace.apply([
        { path: "train.py", search: "lr = 0.01", replace: "lr = 0.5" },
        { path: "../outside.py", search: "", replace: "x" }
      ]))
      assert.strictEqual(read("train.py"), trainSource)
      assert.isFalse(fs.existsSync(path.join(dir, "..", "outside.py")))
    }))

  it.live("passes edit failures through as EditRejected", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const error = yield* Effect.flip(workspace.apply([{ path: "train.py", search: "missing", replace: "x" }]))
      assert.include(error.reason, "search text not found")
    }))

  it.live("seals the immutable files and the given trees", () =>
    Effect.gen(function*() {
      fs.mkdirSync(path.join(dir, "cache"))
      fs.writeFileSync(path.join(dir, "cache", "d.bin"), "data")
      const seal = yield* makeWorkspace(dir, config()).seal({ data: path.join(dir, "cache") })
      const sha = (text: string) => createHash("sha256").update(text).digest("hex")
      assert.deepStrictEqual(seal, {
        "prepare.py": sha("print('prepare')\n"),
        "program.md": sha("# Improve val_mse\n"),
        "autoresearch.config.ts": "missing",
        "data/d.bin": sha("data")
      })
    }))

  it.live("is provided as a layer", () =>
    Effect.gen(function*() {
      const workspace = yield* Workspace
      yield* workspace.apply([{ path: "model.py", search: "2", replace: "5" }])
      assert.strictEqual(read("model.py"), "layers = 5\n")
    }).pipe(Effect.provide(Workspace.layer(dir, config()))))

  it.live("checks against a snapshot of the files when given one, not the disk", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config())
      const head = [{ path: "train.py", content: read("train.py") }]
      // the disk moves on (a candidate is applied); the proposal was made on the head
      fs.writeFileSync(path.join(dir, "train.py"), read("train.py").replace("lr = 0.01", "lr = 0.03"))
      const edit = [{ path: "train.py", search: "lr = 0.01", replace: "lr = 0.02" }]
      const onHead = yield* workspace.check(edit, head)
      assert.include(onHead.get("train.py"), "lr = 0.02")
      const onDisk = yield* Effect.flip(workspace.check(edit))
      assert.strictEqual(onDisk._tag, "EditRejected")
    }))

  it.live("accepts edits to a mutable file configured as ./train.py", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config({ mutable: ["./train.py"] }))
      yield* workspace.apply([{ path: "./train.py", search: "lr = 0.01", replace: "lr = 0.02" }])
      assert.include(read("train.py"), "lr = 0.02")
    }))

  it.live("apply creates a mutable file in a directory that does not exist yet", () =>
    Effect.gen(function*() {
      const workspace = makeWorkspace(dir, config({ mutable: ["src/model.py"] }))
      yield* workspace.apply([{ path: "src/model.py", search: "", replace: "x = 1\n" }])
      assert.strictEqual(read("src/model.py"), "x = 1\n")
    }))
})
