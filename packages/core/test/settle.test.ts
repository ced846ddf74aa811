import { describe, expect, it } from "vitest"
import { maxReapplications, settle } from "../src/Settle.ts"

describe("settle: the stale-parent rule of parallel workers", () => {
  it("advances the branch to a keep built on the head", () => {
    expect(settle({ keep: true, parent: "aaa", head: "aaa", reapplied: 0 })).toEqual({ _tag: "Advance" })
  })

  it("re-applies a stale winner onto the moved head, saying why, up to the limit; then sets it aside", () => {
    const stale = settle({ keep: true, parent: "aaa", head: "bbbbbbbbbbbbbbbb", reapplied: 0 })
    expect(stale._tag).toBe("Reapply")
    expect(stale._tag === "Reapply" && stale.reason).toMatch(/branch moved on to bbbbbbbbbbbb while it ran.*measured again/)
    expect(settle({ keep: true, parent: "aaa", head: "bbb", reapplied: maxReapplications - 1 })._tag).toBe("Reapply")
    const last = settle({ keep: true, parent: "aaa", head: "bbb", reapplied: maxReapplications })
    expect(last._tag).toBe("SetAside")
    expect(last._tag === "SetAside" && last.reason).toMatch(new RegExp(`after ${maxReapplications} re-applications`))
  })

  it("sets aside what was not kept, stale or not, with the decision's own reason", () => {
    expect(settle({ keep: false, parent: "aaa", head: "aaa", reapplied: 0 })).toEqual({ _tag: "SetAside" })
    expect(settle({ keep: false, parent: "aaa", head: "bbb", reapplied: 0 })).toEqual({ _tag: "SetAside" })
  })
})
