/**
 * The research files in the worktree, where phases run, read and written whatever was
 * planted there: a FIFO in place of a mutable file or program.md must not hang the loop
 * (a plain read waits for a writer, a plain write for a reader), and a symbolic link is
 * neither read nor written through. Each Workspace call runs in a child process with a
 * time limit, so that a blocking open fails this test, not hangs it.
 */
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const workspaceModule = path.resolve(import.meta.dirname, "../src/Workspace.ts")
const effectModule = import.meta.resolve("effect")

let dir: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "workspace-hostile-"))
  fs.writeFileSync(path.join(dir, "train.py"), "lr = 0.01\n")
  fs.writeFileSync(path.join(dir, "model.py"), "layers = 2\n")
  fs.writeFileSync(path.join(dir, "program.md"), "# Improve val_mse\n")
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs `body` (an expression of `workspace` giving an Effect) in a child process, killed after 10 s; returns what it printed. */
const inChild = (body: string) => {
  const script = `import { Effect } from ${JSON.stringify(effectModule)}
import { makeWorkspace } from ${JSON.stringify(workspaceModule)}
const workspace = makeWorkspace(${JSON.stringify(dir)}, {
  mutable: ["train.py", "model.py"], immutable: [], program: "program.md", python: ["python3"], syntaxCheck: "none"
})
const result = await Effect.runPromise(${body})
process.stdout.write(JSON.stringify(result ?? null))`
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000 })
  assert.isNull(child.signal, `the workspace did not finish in 10 s (killed by ${child.signal})`)
  assert.strictEqual(child.status, 0, child.stderr)
  return JSON.parse(child.stdout) as unknown
}

describe("Workspace on hostile files", () => {
  it("reads a FIFO in place of a mutable file or program.md as empty, without waiting for a writer", () => {
    fs.rmSync(path.join(dir, "model.py"))
    execFileSync("mkfifo", [path.join(dir, "model.py")])
    fs.rmSync(path.join(dir, "program.md"))
    execFileSync("mkfifo", [path.join(dir, "program.md")])
    assert.deepStrictEqual(inChild("workspace.files"), [
      { path: "train.py", content: "lr = 0.01\n" },
      { path: "model.py", content: "" }
    ])
    assert.strictEqual(inChild("workspace.program"), "")
  })

  it("does not read through a symbolic link that a phase planted", () => {
    const outside = path.join(dir, "..", `${path.basename(dir)}-secret`)
    fs.writeFileSync(outside, "a secret\n")
    try {
      fs.rmSync(path.join(dir, "model.py"))
      fs.symlinkSync(outside, path.join(dir, "model.py"))
      assert.deepStrictEqual(inChild("workspace.files"), [
        { path: "train.py", content: "lr = 0.01\n" },
        { path: "model.py", content: "" }
      ])
    } finally {
      fs.rmSync(outside, { force: true })
    }
  })

  it("apply replaces a FIFO or a symbolic link at a mutable file's path instead of writing into it", () => {
    fs.rmSync(path.join(dir, "model.py"))
    execFileSync("mkfifo", [path.join(dir, "model.py")])
    const outside = path.join(dir, "..", `${path.basename(dir)}-target`)
    fs.writeFileSync(outside, "lr = 0.01\n")
    try {
      fs.rmSync(path.join(dir, "train.py"))
      fs.symlinkSync(outside, path.join(dir, "train.py"))
      inChild(`workspace.apply([{ path: "model.py", search: "", replace: "layers = 3\\n" }, { path: "train.py", search: "", replace: "lr = 0.5\\n" }])`)
      assert.isTrue(fs.lstatSync(path.join(dir, "model.py")).isFile())
      assert.strictEqual(fs.readFileSync(path.join(dir, "model.py"), "utf8"), "layers = 3\n")
      assert.isTrue(fs.lstatSync(path.join(dir, "train.py")).isFile())
      assert.strictEqual(fs.readFileSync(path.join(dir, "train.py"), "utf8"), "lr = 0.5\n")
      assert.strictEqual(fs.readFileSync(outside, "utf8"), "lr = 0.01\n")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((name) => name.endsWith(".tmp")), [])
    } finally {
      fs.rmSync(outside, { force: true })
    }
  })

  it("apply keeps the mode of the file it replaces", () => {
    fs.chmodSync(path.join(dir, "train.py"), 0o755)
    inChild(`workspace.apply([{ path: "train.py", search: "0.01", replace: "0.02" }])`)
    assert.strictEqual(fs.statSync(path.join(dir, "train.py")).mode & 0o777, 0o755)
    assert.strictEqual(fs.readFileSync(path.join(dir, "train.py"), "utf8"), "lr = 0.02\n")
  })
})
