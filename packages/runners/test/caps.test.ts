import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  type CapFacts,
  cgroupEntryFailed,
  chooseEnforcement,
  enterCgroupArgv,
  formatGb,
  phaseRlimits,
  prlimitArgv,
  resolveCaps
} from "../src/Caps.ts"
import { bwrapArgs } from "../src/Sandbox.ts"
import { runProcess, startProcess } from "./run-process.ts"

const caps = { memoryGb: 0.5, maxProcesses: 20, runDirGb: 0.01 }

const facts = (fields: Partial<CapFacts>): CapFacts => ({
  platform: "linux",
  root: false,
  cgroup2: { usable: false, problem: "no cgroup from /user.slice/x.scope up has the memory and pids controllers enabled" },
  cgroup1: { usable: false, problem: "no memory hierarchy is mounted" },
  prlimit: "/usr/bin/prlimit",
  ...fields
})

describe("the caps", () => {
  it("default to three quarters of the host's memory, 4096 processes and a 20 GB run directory", () => {
    assert.deepStrictEqual(resolveCaps({}, 32e9), { memoryGb: 24, maxProcesses: 4096, runDirGb: 20 })
    assert.deepStrictEqual(resolveCaps({ memoryGb: 0.2, maxProcesses: 20, runDirGb: 0.01 }, 32e9), {
      memoryGb: 0.2,
      maxProcesses: 20,
      runDirGb: 0.01
    })
  })

  it("print a size with three significant digits and no trailing zeros", () => {
    assert.deepStrictEqual([20, 0.2, 3.14572, 0.0104, 24.000001].map(formatGb), ["20", "0.2", "3.15", "0.0104", "24"])
  })
})

describe("chooseEnforcement", () => {
  it("takes a usable cgroup v2 first, then v1, keeping prlimit for the per-file limit", () => {
    const v1 = { usable: true as const, memory: "/sys/fs/cgroup/memory/x", pids: "/sys/fs/cgroup/pids" }
    assert.deepStrictEqual(chooseEnforcement(facts({ cgroup2: { usable: true, parent: "/sys/fs/cgroup/a.slice" }, cgroup1: v1 })), {
      method: "cgroup2",
      parent: "/sys/fs/cgroup/a.slice",
      prlimit: "/usr/bin/prlimit"
    })
    assert.deepStrictEqual(chooseEnforcement(facts({ cgroup1: v1, prlimit: undefined })), {
      method: "cgroup1",
      memory: "/sys/fs/cgroup/memory/x",
      pids: "/sys/fs/cgroup/pids",
      prlimit: undefined
    })
  })

  it("falls back to prlimit with a warning that says why and what the rlimits cannot do", () => {
    const chosen = chooseEnforcement(facts({}))
    assert.strictEqual(chosen.method, "prlimit")
    const warning = chosen.method === "prlimit" ? chosen.warning : ""
    assert.isTrue(warning.startsWith("WEAKER CAPS: no cgroup could be made for a phase (v2: no cgroup from /user.slice/x.scope"))
    assert.include(warning, "v1: no memory hierarchy is mounted")
    assert.include(warning, "each process's address space, not the phase's total")
    assert.notInclude(warning, "does not bind root")
    const asRoot = chooseEnforcement(facts({ root: true }))
    assert.include(asRoot.method === "prlimit" ? asRoot.warning : "", "does not bind root at all")
  })

  it("runs uncapped, saying so, where neither cgroups nor prlimit work", () => {
    assert.deepStrictEqual(chooseEnforcement(facts({ platform: "darwin", prlimit: undefined })), {
      method: "none",
      warning: "UNCAPPED: cgroups need Linux, not darwin, and prlimit is not there either, so this phase ran without " +
        "memory or process caps (the run-directory and VRAM watches still apply)"
    })
  })
})

describe("phaseRlimits", () => {
  it("sets only the per-file backstop under a cgroup", () => {
    assert.deepStrictEqual(phaseRlimits({ method: "cgroup2", caps, withGpus: false, writesElsewhere: false, userTasks: 300 }), {
      limits: { fileSize: 10_000_000 },
      warnings: []
    })
  })

  it("sets no per-file limit for a phase that may write elsewhere too (prepare's data cache)", () => {
    assert.deepStrictEqual(phaseRlimits({ method: "cgroup1", caps, withGpus: false, writesElsewhere: true, userTasks: 0 }).limits, {})
    assert.deepStrictEqual(phaseRlimits({ method: "prlimit", caps, withGpus: false, writesElsewhere: true, userTasks: 0 }).limits, {
      addressSpace: 500_000_000,
      processes: 20
    })
  })

  it("sets the address space and the user's processes plus the cap under prlimit", () => {
    assert.deepStrictEqual(phaseRlimits({ method: "prlimit", caps, withGpus: false, writesElsewhere: false, userTasks: 300 }), {
      limits: { addressSpace: 500_000_000, processes: 320, fileSize: 10_000_000 },
      warnings: []
    })
  })

  it("leaves a GPU phase's address space alone, and says its memory is not capped", () => {
    const { limits, warnings } = phaseRlimits({ method: "prlimit", caps, withGpus: true, writesElsewhere: false, userTasks: 0 })
    assert.deepStrictEqual(limits, { processes: 20, fileSize: 10_000_000 })
    assert.strictEqual(warnings.length, 1)
    assert.include(warnings[0], "host memory cap of 0.5 GB was not applied")
  })

  it("becomes prlimit's argv, or nothing without prlimit", () => {
    assert.deepStrictEqual(prlimitArgv("/usr/bin/prlimit", { addressSpace: 5, processes: 6, fileSize: 7 }), [
      "/usr/bin/prlimit",
      "--as=5",
      "--nproc=6",
      "--fsize=7",
      "--"
    ])
    assert.deepStrictEqual(prlimitArgv(undefined, { fileSize: 7 }), [])
    assert.deepStrictEqual(prlimitArgv("/usr/bin/prlimit", {}), [])
  })
})

describe.skipIf(process.platform === "win32")("enterCgroupArgv", () => {
  it("writes the wrapper's PID into each file, then execs the command under that same PID", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "enter-cgroup-"))
    try {
      const files = [path.join(dir, "a.procs"), path.join(dir, "b.procs")]
      const [shell, ...args] = enterCgroupArgv(files)
      const child = startProcess(shell!, [...args, "/bin/sh", "-c", "echo $$"])
      const run = await child.finished
      assert.strictEqual(run.exitCode, 0)
      const pid = run.stdout.trim()
      assert.strictEqual(pid, String(child.pid))
      for (const file of files) assert.strictEqual(fs.readFileSync(file, "utf8").trim(), pid)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses to run the command when a file cannot be written", async () => {
    const [shell, ...args] = enterCgroupArgv(["/nonexistent/dir/cgroup.procs"])
    const run = await runProcess(shell!, [...args, "/bin/sh", "-c", "echo ran"])
    assert.strictEqual(run.exitCode, cgroupEntryFailed)
    assert.notInclude(run.stdout, "ran")
    assert.include(run.stderr, "autoresearch: cannot enter the phase's cgroup (/nonexistent/dir/cgroup.procs)")
  })

  it("is nothing without files", () => {
    assert.deepStrictEqual(enterCgroupArgv([]), [])
  })
})

describe("the sandbox of a runner that runs as root", () => {
  it("drops every capability, so that the phase cannot mount a cgroup file system and leave its cgroup", () => {
    const spec = { workdir: "/w", runDir: "/r", readable: [], writable: [], readOnly: [], homes: [], hidden: [], devices: [] }
    assert.include(bwrapArgs(spec, { dropCapabilities: true }).join(" "), "--cap-drop ALL")
    assert.notInclude(bwrapArgs(spec).join(" "), "--cap-drop")
  })
})
