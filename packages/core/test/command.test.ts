import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Command from "../src/Command.ts"
import { git, show } from "../src/GitRatchet.ts"

describe("Command.run", () => {
  it.effect("reads stdout, stderr and the exit code, with input on stdin", () =>
    Effect.gen(function*() {
      const output = yield* Command.run("/bin/sh", ["-c", "cat; echo oops >&2; exit 3"], { input: "hello" })
      assert.strictEqual(output.stdout, "hello")
      assert.strictEqual(output.stderr, "oops\n")
      assert.strictEqual(output.exitCode, 3)
      assert.isFalse(Command.succeeded(output))
      assert.isFalse(output.killed)
    }))

  it.effect("runs in cwd with the environment given", () =>
    Effect.gen(function*() {
      const dir = fs.realpathSync(os.tmpdir())
      const output = yield* Command.run("/bin/sh", ["-c", "pwd; echo $ONLY"], { cwd: dir, env: { ONLY: "this" } })
      assert.strictEqual(output.stdout, `${dir}\nthis\n`)
      assert.isTrue(Command.succeeded(output))
    }))

  it.effect("fails with the system's code when the command cannot start", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Command.run("no-such-command-here", []))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Command.run("no-such-command-here", []))
      assert.strictEqual(error.code, "ENOENT")
      assert.strictEqual(error.message, "no-such-command-here: not found")
    }))

  it.effect("kills it at its deadline", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const output = yield* Command.run("/bin/sleep", ["10"], { timeoutMs: 200 })
      assert.isTrue(output.killed)
      assert.strictEqual(output.signal, "SIGKILL")
      assert.isBelow(Date.now() - started, 5000)
    }))

  it("runSync answers the same, and undefined when it cannot start", () => {
    const output = Command.runSync("/bin/sh", ["-c", "cat; exit 2"], { input: "x" })
    assert.strictEqual(output?.stdout, "x")
    assert.strictEqual(output?.exitCode, 2)
    assert.isUndefined(Command.runSync("no-such-command-here", []))
  })
})

describe("git through Command", () => {
  const repo = () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "command-git-"))
    Command.runSync("git", ["init", "-q", "-b", "main"], { cwd: root })
    fs.writeFileSync(path.join(root, "blob.bin"), Buffer.from([0, 255, 10, 32]))
    Command.runSync("git", ["add", "-A"], { cwd: root })
    Command.runSync("git", ["-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "one"], { cwd: root })
    return root
  }

  it.effect("trims the end of its output, answers empty on a silent failure, fails when git says why", () =>
    Effect.gen(function*() {
      const root = repo()
      assert.match(yield* git(root, ["rev-parse", "HEAD"]), /^[0-9a-f]{40}$/)
      assert.strictEqual(yield* git(root, ["rev-parse", "--verify", "--quiet", "refs/heads/none"]), "")
      const error = yield* Effect.flip(git(root, ["checkout", "no-such-branch"]))
      assert.strictEqual(error._tag, "GitError")
      assert.strictEqual(error.command, "checkout no-such-branch")
      assert.match(error.reason, /no-such-branch/)
      fs.rmSync(root, { recursive: true, force: true })
    }))

  it.effect("shows a file's bytes at a commit exactly", () =>
    Effect.gen(function*() {
      const root = repo()
      assert.deepStrictEqual([...yield* show(root, "HEAD", "blob.bin")], [0, 255, 10, 32])
      fs.rmSync(root, { recursive: true, force: true })
    }))
})
