import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { entryProblem, unsafeContents } from "../src/RunDir.ts"

describe("RunDir.entryProblem", () => {
  it("passes files, folders and links that stay inside; refuses links out or to nothing, FIFOs, sockets and devices", () => {
    const dir = "/runs/3"
    assert.isUndefined(entryProblem({ path: "model.pt", kind: "file" }, dir))
    assert.isUndefined(entryProblem({ path: "ckpt", kind: "directory" }, dir))
    assert.isUndefined(entryProblem({ path: "last.pt", kind: "link", linkText: "ckpt/9.pt", resolved: "/runs/3/ckpt/9.pt" }, dir))
    assert.strictEqual(
      entryProblem({ path: "predictions.json", kind: "link", linkText: "/dev/null", resolved: "/dev/null" }, dir),
      "predictions.json is a symbolic link to /dev/null, outside the run directory"
    )
    assert.match(entryProblem({ path: "x", kind: "link", linkText: "../30/x", resolved: "/runs/30/x" }, dir)!, /outside the run directory/)
    assert.strictEqual(entryProblem({ path: "x", kind: "link", linkText: "gone" }, dir), "x is a symbolic link to gone, which does not exist")
    assert.strictEqual(entryProblem({ path: "p", kind: "other", what: "a FIFO" }, dir), "p is a FIFO")
  })
})

describe("RunDir.unsafeContents", () => {
  it("names what trusted code must not read, looked at without opening anything", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-dir-"))
    try {
      fs.mkdirSync(path.join(dir, "ckpt"))
      fs.writeFileSync(path.join(dir, "ckpt", "9.pt"), "w")
      fs.symlinkSync("ckpt/9.pt", path.join(dir, "last.pt"))
      assert.isUndefined(unsafeContents(dir))

      fs.symlinkSync("/dev/null", path.join(dir, "predictions.json"))
      fs.symlinkSync(os.homedir(), path.join(dir, "ckpt", "home"))
      execFileSync("mkfifo", [path.join(dir, "pipe")])
      const server = net.createServer().listen(path.join(dir, "sock"))
      await new Promise((resolve) => server.once("listening", resolve))
      try {
        assert.strictEqual(
          unsafeContents(dir),
          "the run directory holds what trusted code must not read: pipe is a FIFO; " +
            "predictions.json is a symbolic link to /dev/null, outside the run directory; sock is a socket; and 1 more"
        )
        fs.rmSync(path.join(dir, "pipe"))
        fs.rmSync(path.join(dir, "sock"))
        fs.rmSync(path.join(dir, "predictions.json"))
        assert.strictEqual(
          unsafeContents(dir),
          `the run directory holds what trusted code must not read: ckpt/home is a symbolic link to ${os.homedir()}, outside the run directory`
        )
      } finally {
        server.close()
      }
      assert.isUndefined(unsafeContents(path.join(dir, "missing")))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
