import { assert, describe, it } from "vitest"
import { findPython, locatePython } from "../src/Python.ts"

describe("locatePython", () => {
  it("takes the first candidate that imports the modules, and says whether one did", () => {
    const found = locatePython(["json"], ["python-does-not-exist", "python3"], {})
    assert.deepStrictEqual(found, { command: ["python3"], imports: true })
    const missing = locatePython(["no_such_module_here"], ["python-does-not-exist", "python3"], {})
    assert.deepStrictEqual(missing, { command: ["python-does-not-exist"], imports: false })
  })

  it("takes AUTORESEARCH_PYTHON as given, split on spaces", () => {
    const env = { AUTORESEARCH_PYTHON: "python3 -I" }
    assert.deepStrictEqual(locatePython(["json"], undefined, env), { command: ["python3", "-I"], imports: true })
    assert.deepStrictEqual(findPython(["no_such_module_here"], undefined, env), ["python3", "-I"])
  })
})
