import { assert, describe, it } from "@effect/vitest"
import { parseStat } from "../src/ProcessTree.ts"

describe("parseStat", () => {
  it("reads state, parent and group, whatever the command's name holds", () => {
    assert.deepStrictEqual(parseStat("4242 (python3) S 4200 4242 4242 0 -1 4194560"), { pid: 4242, state: "S", ppid: 4200, pgrp: 4242 })
    assert.deepStrictEqual(parseStat("17 (a) b (c)) Z 1 17 17 0"), { pid: 17, state: "Z", ppid: 1, pgrp: 17 })
    assert.isUndefined(parseStat("garbage"))
  })
})
