import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as PhaseLimits from "../src/PhaseLimits.ts"
import { bubblewrap, experiment, runLocal, scriptPhase, systemPython, useLayouts, waitDead, watchProcesses } from "./fixtures.ts"

const newLayout = useLayouts()

/** Hostile scripts run on the system's Python: no shim in between to slow their start. */
const python = systemPython

/** How this host enforces the memory and process caps; the tests expect what it can do. */
const enforcement = await Effect.runPromise(PhaseLimits.detect())
const cgroup = enforcement.method === "cgroup2" || enforcement.method === "cgroup1"
const root = process.getuid?.() === 0
/** RLIMIT_NPROC does not bind root: without a cgroup nothing stops root's forks. */
const processCapHolds = cgroup || (enforcement.method === "prlimit" && !root)

/** The phase cgroups this test process's runners made that are still there. */
const leftCgroups = () => {
  const parents = enforcement.method === "cgroup2"
    ? [enforcement.parent]
    : enforcement.method === "cgroup1"
    ? [enforcement.memory, enforcement.pids]
    : []
  return parents.flatMap((parent) => fs.readdirSync(parent).filter((name) => name.startsWith(`autoresearch-${process.pid}-`)))
}

const modes = [
  { name: "unsandboxed", options: { sandbox: "off" } as const, skip: false },
  { name: "sandboxed", options: { sandbox: "required" } as const, skip: !bubblewrap.available }
]

for (const mode of modes) {
  const title = mode.skip ? `${mode.name} — SKIPPED: ${bubblewrap.reason}` : `${mode.name}, caps by ${enforcement.method}`
  describe.skipIf(mode.skip)(`LocalRunner caps, ${title}`, () => {
    it.live.skipIf(enforcement.method === "none")("stops a phase that allocates past its host memory cap, as oom naming the cap", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        // At most 2 GB, written byte by byte, should the cap fail to hold.
        const script = [
          "blocks = []",
          "for i in range(40):",
          "    blocks.append(b'\\x01' * (50 * 1000 * 1000))",
          "print('allocated', len(blocks) * 50, 'MB', flush=True)"
        ].join("\n")
        const phase = scriptPhase(layout, "train", script, { python })
        const result = yield* runLocal(experiment(layout, "memory-hog", [phase]), { ...mode.options, memoryGb: 0.2 })
        assert.strictEqual(result.status, "oom")
        assert.notInclude(result.logTail, "allocated")
        if (cgroup) {
          assert.strictEqual(result.reason?.startsWith("train was killed by the out-of-memory killer at its host memory cap of 0.2 GB"), true, result.reason)
          assert.deepStrictEqual(result.flags, ["memory-cap"])
          assert.deepStrictEqual(leftCgroups(), [])
        } else {
          assert.include(result.reason, "host memory cap of 0.2 GB per process, as an address-space limit")
          assert.include(result.reason, "MemoryError")
          assert.isTrue(result.warnings?.some((warning) => warning.startsWith("WEAKER CAPS")))
        }
      }))

    it.live.skipIf(!processCapHolds)("stops a phase that forks without limit at its process cap, leaving none of its processes", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `fork-bomb-${crypto.randomUUID()}`
        // Bounded to 200 children that sleep 5 s each, should the cap fail to hold.
        const script = [
          "import os, sys, time",
          "for i in range(200):",
          "    if os.fork() == 0:",
          "        time.sleep(5)",
          "        os._exit(0)",
          "print('forked all 200', flush=True)"
        ].join("\n")
        const phase = scriptPhase(layout, "train", script, { python, args: [marker] })
        const watcher = watchProcesses(marker)
        const result = yield* runLocal(experiment(layout, "fork-bomb", [phase]), { ...mode.options, maxProcesses: 20 })
        watcher.stop()
        assert.strictEqual(result.status, "crash")
        assert.include(result.reason, "train hit its cap of 20 processes and threads")
        assert.include(result.reason, "BlockingIOError")
        assert.deepStrictEqual(result.flags, ["pids-cap"])
        assert.notInclude(result.logTail, "forked all 200")
        assert.isAtMost(watcher.seen.size, 20)
        assert.deepStrictEqual(yield* Effect.promise(() => waitDead(watcher.seen)), [])
      }))

    it.live("kills a phase that fills its run directory past the cap with many small files", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        // 1 MB a file, each under the per-file limit; 300 MB at most, should the cap fail to hold.
        const script = [
          "import os, time",
          "run_dir = os.environ['AUTORESEARCH_RUN_DIR']",
          "for i in range(300):",
          "    with open(os.path.join(run_dir, f'chunk-{i}.bin'), 'wb') as f:",
          "        f.write(b'\\x01' * 1000 * 1000)",
          "    time.sleep(0.02)",
          "print('wrote 300 MB', flush=True)"
        ].join("\n")
        const phase = scriptPhase(layout, "train", script, { python })
        const filled = experiment(layout, "disk-filler", [phase])
        const result = yield* runLocal(filled, { ...mode.options, runDirGb: 0.01 })
        assert.strictEqual(result.status, "killed")
        assert.match(result.reason ?? "", /^train wrote [\d.]+ GB into its run directory, over its run-directory cap of 0\.01 GB, and was killed$/)
        assert.deepStrictEqual(result.flags, ["disk-full"])
        assert.isBelow(fs.readdirSync(filled.runDir).filter((name) => name.startsWith("chunk-")).length, 300)
      }))

    it.live.skipIf(enforcement.method === "none")("stops a phase that writes one file past the run-directory cap", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const script = [
          "import os",
          "with open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'big.bin'), 'wb') as f:",
          "    for i in range(300):",
          "        f.write(b'\\x01' * 1000 * 1000)",
          "        f.flush()",
          "print('wrote 300 MB', flush=True)"
        ].join("\n")
        const phase = scriptPhase(layout, "train", script, { python })
        const filled = experiment(layout, "big-file", [phase])
        const result = yield* runLocal(filled, { ...mode.options, runDirGb: 0.01 })
        assert.strictEqual(result.status, "killed")
        assert.include(result.reason, "run-directory cap of 0.01 GB")
        assert.deepStrictEqual(result.flags, ["disk-full"])
        assert.isAtMost(fs.statSync(path.join(filled.runDir, "big.bin")).size, 0.01 * 1e9)
      }))

    it.live.skipIf(mode.name !== "sandboxed" || !cgroup)("keeps a sandboxed phase in its cgroup, even when the runner runs as root", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        // A phase with CAP_SYS_ADMIN could mount the cgroup file system afresh and write itself into its root.
        const script = [
          "import os, subprocess",
          "attempts = []",
          "for kind, options in [('cgroup2', []), ('cgroup', ['-o', 'pids'])]:",
          "    target = f'/tmp/{kind}'",
          "    os.makedirs(target, exist_ok=True)",
          "    mounted = subprocess.run(['mount', '-t', kind, *options, 'none', target], capture_output=True).returncode == 0",
          "    moved = False",
          "    if mounted:",
          "        try:",
          "            with open(os.path.join(target, 'cgroup.procs'), 'w') as f:",
          "                f.write(str(os.getpid()))",
          "            moved = True",
          "        except OSError:",
          "            pass",
          "    attempts.append(f'{kind}: mounted={mounted} moved={moved}')",
          "print('; '.join(attempts), flush=True)"
        ].join("\n")
        const phase = scriptPhase(layout, "train", script, { python })
        const result = yield* runLocal(experiment(layout, "cgroup-escape", [phase]), mode.options)
        assert.strictEqual(result.status, "ok")
        assert.include(result.logTail, "cgroup2: mounted=False moved=False; cgroup: mounted=False moved=False")
      }))

    it.live("kills a phase whose processes use more GPU memory than its budget, as nvidia-smi measures it", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `vram-${crypto.randomUUID()}`
        // A stand-in nvidia-smi: 3000 MiB for the phase's Python, and 90000 MiB for a process that is not the phase's.
        const nvidiaSmi = path.join(layout.outside, "nvidia-smi")
        fs.writeFileSync(
          nvidiaSmi,
          [
            `#!${python}`,
            "import os",
            `marker = ${JSON.stringify(marker)}.encode()`,
            "for pid in filter(str.isdigit, os.listdir('/proc')):",
            "    try:",
            "        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()",
            "        comm = open(f'/proc/{pid}/comm').read()",
            "    except OSError:",
            "        continue",
            "    if marker in cmdline and comm.startswith('python'):",
            "        print(f'{pid}, 3000')",
            "print('1, 90000')"
          ].join("\n") + "\n",
          { mode: 0o755 }
        )
        const script = "import time\nprint('training', flush=True)\ntime.sleep(20)\n"
        const phase = scriptPhase(layout, "train", script, { python, args: [marker], timeoutSeconds: 15 })
        const result = yield* runLocal(experiment(layout, "vram-hog", [phase]), { ...mode.options, vramBudgetGb: 1, nvidiaSmi })
        assert.strictEqual(result.status, "oom")
        assert.strictEqual(
          result.reason,
          "train used 3.15 GB of GPU memory (measured by nvidia-smi), over its VRAM budget of 1 GB (+1 GB for the CUDA context), and was killed"
        )
        assert.deepStrictEqual(result.flags, ["vram-exceeded"])
        assert.isBelow(result.phases[0]!.seconds, 10)
      }))
  })
}
