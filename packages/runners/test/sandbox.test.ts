import { assert, describe, it } from "@effect/vitest"
import { bwrapArgs, isWithin, mounts, type SandboxSpec } from "../src/Sandbox.ts"

const state = "/repo/.autoresearch/t"
const spec: SandboxSpec = {
  workdir: `${state}/worktree/research`,
  runDir: `${state}/runs/4`,
  readable: [`${state}/cache/train`],
  writable: [],
  readOnly: [],
  homes: [],
  hidden: [
    { path: `${state}/cache/hidden`, kind: "directory" },
    { path: "/repo/.git", kind: "directory" },
    { path: "/repo/.autoresearch", kind: "directory" },
    { path: "/home/me/.netrc", kind: "file" }
  ],
  devices: []
}

const plan = (overrides: Partial<SandboxSpec> = {}) =>
  mounts({ ...spec, ...overrides }).map((mount) => `${mount.kind} ${mount.path}`)

describe("mounts", () => {
  it("masks a hidden directory before binding the allowed paths inside it, and drops masks already hidden", () => {
    assert.deepStrictEqual(plan(), [
      "hide /repo/.git",
      "hide /repo/.autoresearch",
      "hide /home/me/.netrc",
      `read ${state}/worktree/research`,
      `read ${state}/cache/train`,
      `write ${state}/runs/4`
    ])
  })

  it("masks a hidden path inside an allowed one after binding it", () => {
    const hidden = [...spec.hidden, { path: `${state}/worktree/research/.git`, kind: "file" as const }]
    const ordered = plan({ hidden, readable: [`${state}/cache`] })
    assert.deepStrictEqual(ordered.slice(-3), [
      `write ${state}/runs/4`,
      `hide ${state}/cache/hidden`,
      `hide ${state}/worktree/research/.git`
    ])
    assert.isBelow(ordered.indexOf(`read ${state}/cache`), ordered.indexOf(`hide ${state}/cache/hidden`))
  })

  it("hides a path even when it is also listed as readable", () => {
    const ordered = plan({ readable: [`${state}/cache/hidden`] })
    assert.isBelow(ordered.indexOf(`read ${state}/cache/hidden`), ordered.indexOf(`hide ${state}/cache/hidden`))
  })

  it("leaves visible a hidden path inside a writable grant (the prepare phase writes the targets)", () => {
    const ordered = plan({ readable: [], writable: [`${state}/cache`] })
    assert.include(ordered, `write ${state}/cache`)
    assert.notInclude(ordered, `hide ${state}/cache/hidden`)
    assert.include(ordered, "hide /repo/.autoresearch")
  })

  it("empties a home, binding back the paths granted inside it, credentials still masked", () => {
    const home = "/home/me"
    const ordered = plan({
      homes: [home],
      workdir: `${home}/proj/research`,
      readable: [`${home}/.pyenv`],
      runDir: `${home}/proj/runs/4`,
      hidden: [{ path: `${home}/.pyenv/.netrc`, kind: "file" }]
    })
    assert.deepStrictEqual(ordered, [
      `hide ${home}`,
      `read ${home}/.pyenv`,
      `read ${home}/proj/research`,
      `hide ${home}/.pyenv/.netrc`,
      `write ${home}/proj/runs/4`
    ])
  })

  it("leaves a home alone when a granted path covers it, and never empties /", () => {
    assert.notInclude(plan({ homes: ["/home/me"], readable: ["/home"] }), "hide /home/me")
    assert.notInclude(plan({ homes: ["/home/me"], writable: ["/home/me"] }), "hide /home/me")
    assert.notInclude(plan({ homes: ["/"] }), "hide /")
  })

  it("makes the runner's log read-only inside the writable run directory", () => {
    const ordered = plan({ readOnly: [`${state}/runs/4/train.log`] })
    assert.deepStrictEqual(ordered.slice(-2), [`write ${state}/runs/4`, `read ${state}/runs/4/train.log`])
  })
})

describe("bwrapArgs", () => {
  it("unshares the network and PID namespace, dies with its parent, keeps /tmp and the home in it private and ends with --", () => {
    const args = bwrapArgs(spec, { infoFd: 3 })
    for (const flag of ["--unshare-all", "--die-with-parent", "--new-session"]) assert.include(args, flag)
    assert.notInclude(args, "--share-net")
    assert.deepStrictEqual(args.slice(3, 14), ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/tmp/home"])
    assert.deepStrictEqual(args.slice(-7), ["--remount-ro", "/repo/.autoresearch", "--chdir", `${state}/worktree/research`, "--info-fd", "3", "--"])
  })

  it("turns each mount into bubblewrap's flag, read-only masks last", () => {
    const args = bwrapArgs({ ...spec, devices: ["/dev/nvidia0", "/dev/nvidiactl"] }).join(" ")
    assert.include(args, "--dev-bind-try /dev/nvidia0 /dev/nvidia0 --dev-bind-try /dev/nvidiactl /dev/nvidiactl")
    assert.include(args, "--tmpfs /repo/.git")
    assert.include(args, "--ro-bind /dev/null /home/me/.netrc")
    assert.include(args, `--ro-bind-try ${state}/cache/train ${state}/cache/train`)
    assert.include(args, `--bind-try ${state}/runs/4 ${state}/runs/4`)
    assert.isTrue(args.endsWith(`--remount-ro /repo/.git --remount-ro /repo/.autoresearch --chdir ${state}/worktree/research --`))
  })
})

describe("isWithin", () => {
  it("compares whole path components", () => {
    assert.isTrue(isWithin("/a/b/c", "/a/b"))
    assert.isTrue(isWithin("/a/b", "/a/b"))
    assert.isFalse(isWithin("/a/bc", "/a/b"))
    assert.isFalse(isWithin("/a", "/a/b"))
  })
})
