import { assert, describe, it } from "@effect/vitest"
import { staleLocks } from "../src/GitLocks.ts"

describe("GitLocks.staleLocks", () => {
  const places = { worktree: "/repo/.autoresearch/t/worktree", worktreeGitDirs: ["/repo/.git/worktrees/worktree"] }
  const index = "/repo/.git/worktrees/worktree/index.lock"
  const ref = "/repo/.git/refs/autoresearch/t/discarded/2.lock"

  it("takes a lock no live process holds for stale", () => {
    assert.deepStrictEqual(staleLocks([index, ref], [], places), [index, ref])
    // A git elsewhere (the user's, in the main checkout) holds none of the run's locks.
    assert.deepStrictEqual(staleLocks([index, ref], [{ comm: "git", cwd: "/repo", open: [] }], places), [index, ref])
  })

  it("leaves a lock a process has open, and every lock while a git works in the worktree", () => {
    assert.deepStrictEqual(staleLocks([index, ref], [{ comm: "python3", cwd: "/", open: [ref] }], places), [index])
    assert.deepStrictEqual(staleLocks([index, ref], [{ comm: "git", cwd: `${places.worktree}/research`, open: [] }], places), [])
    assert.deepStrictEqual(staleLocks([index], [{ comm: "git", cwd: places.worktreeGitDirs[0], open: [] }], places), [])
  })
})
