import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { homesToHide, interpreterTrees } from "../src/Homes.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const fakeHome = () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "homes-")))
  dirs.push(dir)
  return dir
}
const file = (target: string, text: string) => {
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, text, { mode: 0o755 })
  return target
}

describe("interpreterTrees", () => {
  it("binds back a pyenv's whole tree for its shim, a script", () => {
    const home = fakeHome()
    const shim = file(path.join(home, ".pyenv", "shims", "python3"), "#!/usr/bin/env bash\nexec pyenv exec python3\n")
    assert.deepStrictEqual(interpreterTrees(shim, [home]), [path.join(home, ".pyenv")])
  })

  it("binds back a virtual environment and the interpreter it links to or names in pyvenv.cfg", () => {
    const home = fakeHome()
    const base = path.join(home, ".pyenv", "versions", "3.12.1")
    file(path.join(base, "bin", "python3.12"), "\x7fELF")
    const linked = path.join(home, "proj", ".venv", "bin", "python")
    fs.mkdirSync(path.dirname(linked), { recursive: true })
    fs.symlinkSync(path.join(base, "bin", "python3.12"), linked)
    assert.deepStrictEqual(interpreterTrees(linked, [home]), [path.join(home, "proj", ".venv"), base])
    const copied = file(path.join(home, "copies", "bin", "python"), "\x7fELF")
    file(path.join(home, "copies", "pyvenv.cfg"), `home = ${path.join(base, "bin")}\ninclude-system-site-packages = false\n`)
    assert.deepStrictEqual(interpreterTrees(copied, [home]), [path.join(home, "copies"), base])
  })

  it("binds back nothing outside the homes, and never a whole home", () => {
    const home = fakeHome()
    assert.deepStrictEqual(interpreterTrees("/usr/bin/python3", [home]), [])
    const loose = file(path.join(home, "python"), "\x7fELF")
    assert.deepStrictEqual(interpreterTrees(loose, [home]), [loose])
    const inBin = file(path.join(home, "bin", "python"), "\x7fELF")
    assert.deepStrictEqual(interpreterTrees(inBin, [home]), [path.join(home, "bin")])
  })
})

describe("homesToHide", () => {
  it("takes the home it is given, /root too for root, and never /", () => {
    const home = fakeHome()
    assert.include(homesToHide(home), home)
    assert.strictEqual(homesToHide(home).includes("/root"), process.getuid?.() === 0 && fs.existsSync("/root"))
    assert.notInclude(homesToHide("/"), "/")
    assert.notInclude(homesToHide(path.join(home, "absent")), path.join(home, "absent"))
  })
})
