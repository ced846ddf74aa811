import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as PhaseLimits from "../src/PhaseLimits.ts"
import { systemPython } from "./fixtures.ts"
import { runProcess, startProcess } from "./run-process.ts"

describe("what triage is told of the caps", () => {
  const caps = { memoryGb: 0.3, maxProcesses: 25, runDirGb: 1 }

  it("under a cgroup: its counts", () => {
    assert.deepStrictEqual(
      PhaseLimits.capsSeen({ caps, counters: { oomKills: 1, memoryLimitHits: 9, forksRefused: 0 }, rlimits: undefined, fileSizeGb: 1 }),
      {
        memory: { capGb: 0.3, enforcedBy: "cgroup", oomKills: 1, limitHits: 9 },
        processes: { cap: 25, enforcedBy: "cgroup", forksRefused: 0 },
        fileSizeGb: 1
      }
    )
  })

  it("under rlimits: those that were set, and nothing to count", () => {
    assert.deepStrictEqual(PhaseLimits.capsSeen({ caps, counters: undefined, rlimits: { processes: 400 }, fileSizeGb: undefined }), {
      processes: { cap: 25, enforcedBy: "rlimit" }
    })
    assert.deepStrictEqual(PhaseLimits.capsSeen({ caps, counters: undefined, rlimits: undefined, fileSizeGb: undefined }), {})
  })

  it("warns of kills and refusals in a phase that finished anyway", () => {
    const seen = PhaseLimits.capsSeen({ caps, counters: { oomKills: 2, forksRefused: 7 }, rlimits: undefined, fileSizeGb: undefined })
    assert.deepStrictEqual(PhaseLimits.survivedCaps("train", seen), [
      "train finished, but the out-of-memory killer killed 2 of its processes at its host memory cap of 0.3 GB",
      "train finished, but 7 of its forks were refused at its cap of 25 processes and threads"
    ])
    assert.deepStrictEqual(PhaseLimits.survivedCaps("train", PhaseLimits.capsSeen({ caps, counters: {}, rlimits: undefined, fileSizeGb: undefined })), [])
  })
})

const enforcement = await Effect.runPromise(PhaseLimits.detect())
const cgroup = enforcement.method === "cgroup2" || enforcement.method === "cgroup1"

describe.skipIf(!cgroup)(`a phase's cgroup (${enforcement.method} here)`, () => {
  it.live("holds the caps while the phase runs, takes its processes, and is gone after it", () =>
    Effect.gen(function*() {
      const caps = { memoryGb: 0.3, maxProcesses: 25, runDirGb: 1 }
      const seen = yield* Effect.scoped(Effect.gen(function*() {
        const limits = yield* PhaseLimits.apply(enforcement, caps, { withGpus: false, writesElsewhere: false })
        assert.isDefined(limits.cgroup)
        assert.deepStrictEqual(limits.warnings, [])
        const dirs = limits.cgroup!.procsFiles.map(path.dirname)
        const read = (file: string) => fs.readFileSync(dirs.map((dir) => path.join(dir, file)).find((target) => fs.existsSync(target))!, "utf8").trim()
        assert.strictEqual(read("pids.max"), "25")
        const memory = Number(enforcement.method === "cgroup2" ? read("memory.max") : read("memory.limit_in_bytes"))
        // the kernel rounds down to a page
        assert.isAtMost(memory, 0.3e9)
        assert.isAbove(memory, 0.3e9 - 4096 * 16)
        const [file, ...args] = limits.argv
        const child = startProcess(file!, [...args, "/bin/sleep", "5"])
        const until = Date.now() + 5000
        while (!limits.cgroup!.members().includes(child.pid!) && Date.now() < until) yield* Effect.sleep("10 millis")
        assert.include(limits.cgroup!.members(), child.pid!)
        return { dirs, child }
      }))
      // the scope closed: the sleeper was killed, and the cgroup removed
      const exit = yield* Effect.promise(() => seen.child.finished)
      assert.strictEqual(exit.signal, "SIGKILL")
      for (const dir of seen.dirs) assert.isFalse(fs.existsSync(dir))
    }))
})

const prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].find((file) => fs.existsSync(file))
const python = systemPython

describe.skipIf(prlimit === undefined || process.platform !== "linux")("a phase's limits without a cgroup (prlimit)", () => {
  it.live("turn a large allocation into MemoryError and stop a file at the run-directory cap, and say they are weaker", () =>
    Effect.gen(function*() {
      const warning = "WEAKER CAPS: no cgroup could be made for a phase (as on a host without delegation)"
      const caps = { memoryGb: 0.3, maxProcesses: 20, runDirGb: 0.01 }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prlimit-phase-"))
      const script = [
        "import os, sys",
        "try:",
        "    block = bytearray(1 << 30)",
        "    print('allocated')",
        "except MemoryError:",
        "    print('MemoryError')",
        "try:",
        `    with open(${JSON.stringify(path.join(dir, "big.bin"))}, 'wb') as f:`,
        "        f.write(b'x' * 20_000_000)",
        "    print('wrote')",
        "except OSError as error:",
        "    print('errno', error.errno)"
      ].join("\n")
      const { limits, seen } = yield* Effect.scoped(Effect.gen(function*() {
        const limits = yield* PhaseLimits.apply({ method: "prlimit", prlimit: prlimit!, warning }, caps, { withGpus: false, writesElsewhere: false })
        return { limits, seen: limits.seen() }
      }))
      const [file, ...args] = limits.argv
      const run = yield* Effect.promise(() => runProcess(file!, [...args, python, "-c", script]))
      fs.rmSync(dir, { recursive: true, force: true })
      assert.deepStrictEqual(run.stdout.trimEnd().split("\n"), ["MemoryError", "errno 27"])
      assert.isUndefined(limits.cgroup)
      assert.strictEqual(limits.warnings[0], warning)
      assert.deepStrictEqual(seen, {
        memory: { capGb: 0.3, enforcedBy: "address-space" },
        processes: { cap: 20, enforcedBy: "rlimit" },
        fileSizeGb: 0.01
      })
    }))

  it.live("leave a GPU phase's address space alone, saying its memory is not capped", () =>
    Effect.gen(function*() {
      const limits = yield* Effect.scoped(
        PhaseLimits.apply({ method: "prlimit", prlimit: prlimit!, warning: "WEAKER CAPS" }, { memoryGb: 0.3, maxProcesses: 20, runDirGb: 1 }, {
          withGpus: true,
          writesElsewhere: false
        })
      )
      assert.isFalse(limits.argv.some((arg) => arg.startsWith("--as=")))
      assert.include(limits.warnings[1], "host memory cap of 0.3 GB was not applied")
    }))
})
