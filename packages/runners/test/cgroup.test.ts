import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ancestors, countersOf, create, parseKeyed, parseMembership, parseMounts } from "../src/Cgroup.ts"

/** A host with cgroup v1 controllers and an (almost empty) v2 hierarchy beside them, as some containers have. */
const hybridMounts = [
  "tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0",
  "cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0",
  "cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0",
  "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0",
  "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0"
].join("\n")

describe("reading cgroup files", () => {
  it("finds the v2 mount and each v1 controller's mount", () => {
    assert.deepStrictEqual(parseMounts(hybridMounts), {
      v2: "/sys/fs/cgroup/unified",
      v1: {
        rw: "/sys/fs/cgroup/memory",
        relatime: "/sys/fs/cgroup/memory",
        memory: "/sys/fs/cgroup/memory",
        pids: "/sys/fs/cgroup/pids",
        cpu: "/sys/fs/cgroup/cpu,cpuacct",
        cpuacct: "/sys/fs/cgroup/cpu,cpuacct"
      }
    })
    assert.deepStrictEqual(parseMounts("cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nsdelegate 0 0\n"), { v2: "/sys/fs/cgroup", v1: {} })
    assert.strictEqual(parseMounts("cgroup2 /mnt/my\\040cgroups cgroup2 rw 0 0").v2, "/mnt/my cgroups")
  })

  it("reads a process's cgroups, v2 and v1", () => {
    const text = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/bb6e\n2:cpu,cpuacct:/a\n0::/\n"
    assert.deepStrictEqual(parseMembership(text), {
      v2: "/",
      v1: { "name=systemd": "/", pids: "/", memory: "/process_api/bb6e", cpu: "/a", cpuacct: "/a" }
    })
    assert.deepStrictEqual(parseMembership("0::/user.slice/user-1000.slice/session-2.scope\n"), {
      v2: "/user.slice/user-1000.slice/session-2.scope",
      v1: {}
    })
  })

  it("lists a cgroup's directory and those above it, nearest first", () => {
    assert.deepStrictEqual(ancestors("/sys/fs/cgroup", "/user.slice/app.slice"), [
      "/sys/fs/cgroup/user.slice/app.slice",
      "/sys/fs/cgroup/user.slice",
      "/sys/fs/cgroup"
    ])
    assert.deepStrictEqual(ancestors("/sys/fs/cgroup", "/"), ["/sys/fs/cgroup"])
  })

  it("reads flat-keyed files as numbers", () => {
    assert.deepStrictEqual(parseKeyed("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), { oom_kill_disable: 0, under_oom: 0, oom_kill: 2 })
    assert.deepStrictEqual(parseKeyed("max 3\nmax.imposed 1\n"), { max: 3, "max.imposed": 1 })
  })

  it("counts OOM kills, limit hits and refused forks, v2 and v1", () => {
    assert.deepStrictEqual(
      countersOf("cgroup2", {
        memoryEvents: "low 0\nhigh 0\nmax 57\noom 1\noom_kill 1\noom_group_kill 1\n",
        pidsEvents: "max 12\n"
      }),
      { oomKills: 1, memoryLimitHits: 57, forksRefused: 12 }
    )
    assert.deepStrictEqual(
      countersOf("cgroup1", { oomControl: "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", failcnt: "781\n", pidsEvents: "max 1\n" }),
      { oomKills: 1, memoryLimitHits: 781, forksRefused: 1 }
    )
    // a kernel before 4.13 has no oom_kill line: the kills are unknown, not zero
    assert.deepStrictEqual(countersOf("cgroup1", { oomControl: "oom_kill_disable 0\nunder_oom 0\n", failcnt: "0\n" }), {
      memoryLimitHits: 0
    })
  })
})

/** What a phase's cgroup directories hold after `create`, made in plain directories standing in for the hierarchies. */
const made = (method: "cgroup2" | "cgroup1") => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "fake-cgroup-"))
  try {
    for (const dir of ["v2", "memory", "pids"]) fs.mkdirSync(path.join(root, dir))
    const enforcement = method === "cgroup2"
      ? { method, parent: path.join(root, "v2"), prlimit: undefined }
      : { method, memory: path.join(root, "memory"), pids: path.join(root, "pids"), prlimit: undefined }
    const cgroup = create(enforcement, { memoryBytes: 0.25e9, maxProcesses: 20 })
    assert.isTrue("procsFiles" in cgroup)
    const files: Record<string, string> = {}
    for (const hierarchy of ["v2", "memory", "pids"]) {
      for (const child of fs.readdirSync(path.join(root, hierarchy))) {
        assert.match(child, new RegExp(`^autoresearch-${process.pid}-[0-9a-f]{8}$`))
        for (const file of fs.readdirSync(path.join(root, hierarchy, child))) {
          files[`${hierarchy}/${file}`] = fs.readFileSync(path.join(root, hierarchy, child, file), "utf8")
        }
      }
    }
    return { files, procs: "procsFiles" in cgroup ? cgroup.procsFiles.map((file) => path.relative(root, path.dirname(file)).split(path.sep)[0]) : [] }
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

describe("a phase's cgroup, as created", () => {
  it("in v2: one cgroup with the memory and pids limits, no swap, and OOM kills of the whole group", () => {
    assert.deepStrictEqual(made("cgroup2"), {
      files: { "v2/memory.max": "250000000", "v2/pids.max": "20", "v2/memory.swap.max": "0", "v2/memory.oom.group": "1" },
      procs: ["v2"]
    })
  })

  it("in v1: a memory cgroup with the limit for memory and swap together, and a pids cgroup", () => {
    assert.deepStrictEqual(made("cgroup1"), {
      files: { "memory/memory.limit_in_bytes": "250000000", "memory/memory.memsw.limit_in_bytes": "250000000", "pids/pids.max": "20" },
      procs: ["memory", "pids"]
    })
  })
})
