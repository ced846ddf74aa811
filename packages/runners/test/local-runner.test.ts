import { assert, describe, it } from "@effect/vitest"
import { Runner } from "@autoresearch/core"
import { Effect, Fiber } from "effect"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as GpuPool from "../src/GpuPool.ts"
import * as LocalRunner from "../src/LocalRunner.ts"
import { isWithin } from "../src/Sandbox.ts"
import {
  bubblewrap,
  daemonScript,
  experiment,
  readJson,
  runInChild,
  scriptPhase,
  waitDead,
  waitForFile,
  watchProcesses,
  runLocal,
  systemPython,
  useLayouts,
  runStaged
} from "./fixtures.ts"

const newLayout = useLayouts()

const run = runLocal

const modes = [
  { name: "unsandboxed", options: { sandbox: "off" } as const, skip: false },
  { name: "sandboxed", options: { sandbox: "required" } as const, skip: !bubblewrap.available }
]

for (const mode of modes) {
  const title = mode.skip ? `${mode.name} — SKIPPED: ${bubblewrap.reason}` : mode.name
  describe.skipIf(mode.skip)(`LocalRunner, ${title}`, () => {
    it.live("times out a phase that sleeps past its limit, killed within the kill grace", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const phase = scriptPhase(layout, "train", "import time\nprint('training', flush=True)\ntime.sleep(60)\n", {
          timeoutSeconds: 1,
          python: systemPython
        })
        const result = yield* run(experiment(layout, "sleeper", [phase]), mode.options)
        assert.strictEqual(result.status, "timeout")
        assert.strictEqual(result.reason, "train exceeded its 1 s limit and was killed")
        assert.isTrue(result.phases[0]!.timedOut)
        assert.isBelow(result.phases[0]!.seconds, 1 + 2)
        assert.include(result.logTail, "training")
      }))

    it.live("kills a phase that ignores SIGTERM with SIGKILL once the grace is over", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `ignore-term-${crypto.randomUUID()}`
        const script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ignoring', flush=True)\ntime.sleep(60)\n"
        const phase = scriptPhase(layout, "train", script, { timeoutSeconds: 1.5, args: [marker], python: systemPython })
        const watcher = watchProcesses(marker)
        const result = yield* run(experiment(layout, "stubborn", [phase]), mode.options)
        watcher.stop()
        assert.strictEqual(result.status, "timeout")
        // SIGTERM at 1.5 s is ignored; SIGKILL follows after the 1 s grace
        assert.isAtLeast(result.phases[0]!.seconds, 1.5 + 1 - 0.2)
        assert.isBelow(result.phases[0]!.seconds, 1.5 + 2)
        assert.isAtLeast(watcher.seen.size, 1)
        assert.deepStrictEqual(yield* Effect.promise(() => waitDead(watcher.seen)), [])
      }))

    it.live("leaves no process alive after a phase that exits leaving setsid and double-forked sleepers", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `daemons-${crypto.randomUUID()}`
        const phase = scriptPhase(layout, "train", daemonScript(marker, "print('done')"), { args: [marker] })
        const watcher = watchProcesses(marker)
        const result = yield* run(experiment(layout, "daemons", [phase]), mode.options)
        watcher.stop()
        assert.strictEqual(result.status, "ok")
        assert.include(result.logTail, "daemons started")
        // the script itself, the setsid sleeper and the double-forked one
        assert.isAtLeast(watcher.seen.size, 3)
        assert.deepStrictEqual(watcher.alive(), [])
      }))

    it.live("leaves no process alive after timing out a phase whose sleepers escaped its process group", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `daemons-timeout-${crypto.randomUUID()}`
        const phase = scriptPhase(layout, "train", daemonScript(marker, "time.sleep(60)"), { args: [marker], timeoutSeconds: 2.5 })
        const watcher = watchProcesses(marker)
        const result = yield* run(experiment(layout, "daemons-timeout", [phase]), mode.options)
        watcher.stop()
        assert.strictEqual(result.status, "timeout")
        assert.isAtLeast(watcher.seen.size, 3)
        assert.deepStrictEqual(watcher.alive(), [])
      }))

    it.live("stops every process of the phase when the Effect is interrupted", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const marker = `interrupt-${crypto.randomUUID()}`
        const phase = scriptPhase(layout, "train", daemonScript(marker, "time.sleep(60)"), { args: [marker], timeoutSeconds: 60 })
        const watcher = watchProcesses(marker)
        const interrupted = experiment(layout, "interrupted", [phase])
        const fiber = yield* Effect.forkChild(run(interrupted, mode.options))
        assert.isTrue(yield* Effect.promise(() => waitForFile(path.join(interrupted.runDir, "daemons-started"))))
        assert.isAtLeast(watcher.seen.size, 3)
        const started = Date.now()
        yield* Fiber.interrupt(fiber)
        watcher.stop()
        assert.isBelow(Date.now() - started, 1000 * (1 + 1))
        assert.deepStrictEqual(watcher.alive(), [])
      }))

    it.live("triages exit 137, MemoryError and a CUDA out-of-memory message as oom", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const cases = [
          // Through bubblewrap an exit code of 137 reads as SIGKILL; either way the OOM killer is the likely cause.
          ["import sys\nsys.exit(137)\n", "exit code 137), most likely by the kernel's out-of-memory killer"],
          ["x = bytearray(1 << 60)\n", "train ran out of memory (exit code 1): MemoryError"],
          [
            "import sys\nprint('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB', file=sys.stderr)\nsys.exit(1)\n",
            "train ran out of memory (exit code 1): torch.OutOfMemoryError: CUDA out of memory"
          ]
        ] as const
        for (const [script, reason] of cases) {
          const result = yield* run(experiment(layout, "oom", [scriptPhase(layout, "train", script)]), mode.options)
          assert.strictEqual(result.status, "oom", script)
          assert.include(result.reason, reason)
        }
      }))

    it.live("gives each phase a HOME and TMPDIR that no earlier phase could write, and no user site-packages", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        // train plants start-up code in its own home, where a shared home would carry it into predict
        const plant = [
          "import json, os, site",
          "run = os.environ['AUTORESEARCH_RUN_DIR']",
          "relative = os.path.relpath(site.getusersitepackages(), os.path.expanduser('~'))",
          "code = \"open(__import__('os').path.join(__import__('os').environ['AUTORESEARCH_RUN_DIR'], 'planted-code-ran'), 'w')\\n\"",
          "os.makedirs(os.path.join(os.environ['HOME'], relative), exist_ok=True)",
          "open(os.path.join(os.environ['HOME'], relative, 'usercustomize.py'), 'w').write(code)",
          "open(os.path.join(os.environ['TMPDIR'], 'planted'), 'w').write(code)",
          "json.dump({'home': os.environ['HOME'], 'tmp': os.environ['TMPDIR']}, open(os.path.join(run, 'train-env.json'), 'w'))"
        ].join("\n")
        const look = [
          "import json, os, site",
          "json.dump({'home': os.environ['HOME'], 'homeEntries': os.listdir(os.environ['HOME']),",
          "           'tmpEntries': os.listdir(os.environ['TMPDIR']), 'noUserSite': os.environ.get('PYTHONNOUSERSITE'),",
          "           'userSite': bool(site.ENABLE_USER_SITE)},",
          "          open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'predict-env.json'), 'w'))"
        ].join("\n")
        const planted = experiment(layout, "planted", [scriptPhase(layout, "train", plant), scriptPhase(layout, "predict", look)])
        const result = yield* run(planted, mode.options)
        assert.strictEqual(result.status, "ok", result.logTail)
        assert.isFalse(fs.existsSync(path.join(planted.runDir, "planted-code-ran")), "train's code ran in predict")
        const train = readJson<{ home: string; tmp: string }>(planted, "train-env.json")
        const predict = readJson<{ home: string; homeEntries: Array<string>; tmpEntries: Array<string>; noUserSite: string; userSite: boolean }>(
          planted,
          "predict-env.json"
        )
        assert.deepStrictEqual(predict.homeEntries, [])
        assert.notInclude(predict.tmpEntries, "planted")
        assert.strictEqual(predict.noUserSite, "1")
        assert.isFalse(predict.userSite)
        for (const dir of [train.home, train.tmp, predict.home]) assert.isFalse(isWithin(dir, planted.runDir), dir)
        // unsandboxed, they were real directories on the host, and are gone
        if (mode.options.sandbox === "off") for (const dir of [train.home, train.tmp]) assert.isFalse(fs.existsSync(dir), dir)
      }))

    it.live("triages a traceback as a crash, with its last line", () =>
      Effect.gen(function*() {
        const layout = newLayout()
        const script = "def f():\n    raise ValueError('shapes (3,) and (4,) do not match')\nf()\n"
        const result = yield* run(experiment(layout, "crash", [scriptPhase(layout, "train", script)]), mode.options)
        assert.strictEqual(result.status, "crash")
        assert.strictEqual(result.reason, "train failed (exit code 1): ValueError: shapes (3,) and (4,) do not match")
        assert.strictEqual(result.phases[0]!.exitCode, 1)
      }))
  })
}

describe("LocalRunner, wherever it runs", () => {
  it.live("keeps the log bounded and the runner's memory flat when a phase prints 200 MB", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const script = [
        "import sys",
        "line = 'x' * 99 + '\\n'",
        "block = line * 10000",
        "for i in range(200):",
        "    sys.stdout.write(block)",
        "print('the last line')"
      ].join("\n")
      const before = process.memoryUsage().rss
      let peak = before
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 20)
      const result = yield* run(
        experiment(layout, "loud", [scriptPhase(layout, "train", script)]),
        { sandbox: bubblewrap.available ? "required" : "off", log: { headBytes: 1 << 20, tailBytes: 1 << 20 } }
      )
      clearInterval(sampler)
      assert.strictEqual(result.status, "ok")
      const logPath = result.phases[0]!.logPath
      const size = fs.statSync(logPath).size
      assert.isAtMost(size, 2 * (1 << 20) + 300)
      const text = fs.readFileSync(logPath, "utf8")
      assert.match(text, /\[autoresearch: \d+ bytes of output dropped here/)
      assert.isTrue(text.endsWith("the last line\n"))
      assert.include(result.logTail, "the last line")
      // 200 MB went through the runner, which keeps 2 MiB of it; V8 frees the pipe's chunks
      // lazily (about 70 MB of garbage at most, whatever the volume), hence the margin.
      assert.isBelow(peak - before, 128 * (1 << 20), `rss grew by ${((peak - before) / (1 << 20)).toFixed(1)} MB`)
    }))

  it.live("says which reported loss is not finite, and which artifact is missing or empty", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const options = { sandbox: "auto", artifacts: { train: ["model.pt"] } } as const
      const nan = yield* run(experiment(layout, "nan", [scriptPhase(layout, "train", "print('loss: nan')\n")]), options)
      assert.strictEqual(nan.status, "crash")
      assert.strictEqual(nan.reason, "train reported a non-finite loss (loss: NaN)")
      const metrics = scriptPhase(
        layout,
        "train",
        "import json, os\nopen(os.environ['AUTORESEARCH_METRICS_FILE'], 'w').write(json.dumps({'val_loss': float('inf')}))\n" +
          "open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'model.pt'), 'w').write('weights')\n"
      )
      const inf = yield* run(experiment(layout, "inf", [metrics]), options)
      assert.strictEqual(inf.reason, "train reported a non-finite loss (val_loss: Infinity)")
      const missing = yield* run(experiment(layout, "missing", [scriptPhase(layout, "train", "print('no model')\n")]), options)
      assert.strictEqual(missing.status, "crash")
      assert.strictEqual(missing.reason, "train exited 0 but did not write model.pt")
      const emptyScript = "import os\nopen(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'model.pt'), 'w')\n"
      const empty = yield* run(experiment(layout, "empty", [scriptPhase(layout, "train", emptyScript)]), options)
      assert.strictEqual(empty.reason, "train exited 0 but wrote an empty model.pt")
    }))

  it.live("runs the phases in order in one run directory and stops at the first that fails", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const train = scriptPhase(
        layout,
        "train",
        "import json, os\nopen(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'model.json'), 'w').write('[1]')\n" +
          "open(os.environ['AUTORESEARCH_METRICS_FILE'], 'w').write(json.dumps({'peak_vram_gb': 3.25}))\n"
      )
      const predict = scriptPhase(
        layout,
        "predict",
        "import os\nprint(open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'model.json')).read())\n",
        { readable: [layout.cache.inputs] }
      )
      const never = scriptPhase(layout, "predict-test", "print('not reached')\n")
      const failing = scriptPhase(layout, "predict", "import sys\nsys.exit(3)\n")
      const ok = yield* run(experiment(layout, "two", [train, predict]), { sandbox: "auto" })
      assert.strictEqual(ok.status, "ok")
      assert.deepStrictEqual(ok.phases.map((phase) => [phase.name, phase.exitCode]), [["train", 0], ["predict", 0]])
      assert.strictEqual(ok.peakMemoryGb, 3.25)
      // the loop runs one phase per call: predict's result still carries train's peak from the shared metrics.json
      const predictOnly = yield* run({ ...experiment(layout, "two", []), phases: [predict] }, { sandbox: "auto" })
      assert.strictEqual(predictOnly.peakMemoryGb, 3.25)
      assert.include(ok.logTail, "[1]")
      assert.isTrue(fs.existsSync(path.join(ok.runDir, "train.log")))
      assert.isTrue(fs.existsSync(path.join(ok.runDir, "predict.log")))
      const stopped = yield* run(experiment(layout, "stops", [train, failing, never]), { sandbox: "auto" })
      assert.strictEqual(stopped.status, "crash")
      assert.strictEqual(stopped.reason, "predict failed (exit code 3)")
      assert.deepStrictEqual(stopped.phases.map((phase) => phase.name), ["train", "predict"])
    }))

  it.live("times a phase out only at its limit, even one longer than a Node timer can wait (24.8 days)", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const phase = scriptPhase(layout, "train", "import time\ntime.sleep(0.3)\nprint('done')\n", { timeoutSeconds: 2_200_000 })
      const result = yield* run(experiment(layout, "long-limit", [phase]), { sandbox: "auto" })
      assert.strictEqual(result.status, "ok", result.reason)
      assert.isFalse(result.phases[0]!.timedOut)
    }))

  it.live("neither blocks on nor follows what a phase planted in the run directory: FIFOs, links", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const victim = path.join(layout.outside, "victim.txt")
      fs.writeFileSync(victim, "the user's file\n")
      const plant = [
        "import os",
        "run = os.environ['AUTORESEARCH_RUN_DIR']",
        "os.mkfifo(os.path.join(run, 'metrics.json'))",
        "os.mkfifo(os.path.join(run, 'predictions.npy'))",
        `os.symlink(${JSON.stringify(victim)}, os.path.join(run, 'predict.log'))`,
        "print('planted')"
      ].join("\n")
      const planted = experiment(layout, "planted", [scriptPhase(layout, "train", plant), scriptPhase(layout, "predict", "print('predicted')\n")])
      // in a process of its own: a runner that blocks on a FIFO blocks its whole thread, timers included
      const child = yield* Effect.promise(() =>
        runInChild(planted, { sandbox: bubblewrap.available ? "required" : "off", artifacts: { predict: ["predictions.npy"] } }, 30_000)
      )
      assert.isFalse(child.timedOut, "the runner hung")
      const result = child.result!
      assert.strictEqual(result.status, "crash")
      assert.strictEqual(result.reason, "predict exited 0 but left predictions.npy as a FIFO, not a regular file")
      assert.include(result.warnings ?? [], `ignored the metrics file: ${path.join(planted.runDir, "metrics.json")} is a FIFO, not a regular file`)
      assert.strictEqual(fs.readFileSync(victim, "utf8"), "the user's file\n")
      const log = path.join(planted.runDir, "predict.log")
      assert.isTrue(fs.lstatSync(log).isFile())
      assert.strictEqual(fs.readFileSync(log, "utf8"), "predicted\n")
    }))

  it.live("fails with a RunnerError when the command does not exist", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const phase = { ...scriptPhase(layout, "train", ""), command: ["no-such-python-here", "train.py"] }
      const error = yield* Effect.flip(run(experiment(layout, "missing-python", [phase]), { sandbox: "auto" }))
      assert.strictEqual(error._tag, "RunnerError")
      assert.include(error.reason, "command not found: no-such-python-here")
    }))

  it.live("without bubblewrap: auto runs unsandboxed and says so loudly, required refuses to start", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const phase = scriptPhase(layout, "train", "print('ran')\n")
      const auto = yield* run(experiment(layout, "auto", [phase]), { sandbox: "auto", bwrap: "/nonexistent/bwrap" })
      assert.strictEqual(auto.status, "ok")
      assert.strictEqual(auto.warnings?.length, 1)
      assert.match(auto.warnings![0]!, /^UNSANDBOXED: \/nonexistent\/bwrap not found\. This phase ran with network access/)
      const marker = path.join(auto.runDir, "required-ran")
      const refusing = scriptPhase(layout, "train", `open(${JSON.stringify(marker)}, 'w')\n`)
      const error = yield* Effect.flip(run(experiment(layout, "required", [refusing]), { sandbox: "required", bwrap: "/nonexistent/bwrap" }))
      assert.strictEqual(error._tag, "RunnerError")
      assert.include(error.reason, "sandbox: \"required\" but /nonexistent/bwrap not found")
      assert.isFalse(fs.existsSync(marker))
    }))

  it.live("leases a GPU to each concurrent experiment, passes the VRAM budget, warns of a peak over it", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const card = (index: number) => ({ index, uuid: `GPU-${index}`, name: "H100", memoryTotalMb: 81559, memoryUsedMb: 0 })
      const script = [
        "import json, os, time",
        "names = ['CUDA_VISIBLE_DEVICES', 'CUDA_DEVICE_ORDER', 'AUTORESEARCH_DEVICE', 'AUTORESEARCH_VRAM_GB']",
        "open(os.path.join(os.environ['AUTORESEARCH_RUN_DIR'], 'env.json'), 'w').write(json.dumps({n: os.environ.get(n) for n in names}))",
        "open(os.environ['AUTORESEARCH_METRICS_FILE'], 'w').write(json.dumps({'peak_vram_mb': 20000}))",
        "time.sleep(0.5)"
      ].join("\n")
      const experiments = ["gpu-a", "gpu-b"].map((id) => experiment(layout, id, [scriptPhase(layout, "train", script)]))
      const results = yield* Effect.gen(function*() {
        const runner = yield* Runner
        return yield* Effect.all(experiments.map((one) => runStaged(runner, one)), { concurrency: "unbounded" })
      }).pipe(
        Effect.provide(LocalRunner.layerWithPool({ sandbox: "auto", vramBudgetGb: 16 })),
        Effect.provide(GpuPool.layerOf([card(0), card(1)]))
      )
      const envs = experiments.map((one) => JSON.parse(fs.readFileSync(path.join(one.runDir, "env.json"), "utf8")))
      assert.deepStrictEqual(envs.map((env) => env.CUDA_VISIBLE_DEVICES).sort(), ["0", "1"])
      for (const env of envs) {
        assert.deepInclude(env, {
          CUDA_DEVICE_ORDER: "PCI_BUS_ID",
          AUTORESEARCH_DEVICE: "cuda",
          AUTORESEARCH_VRAM_GB: "16"
        })
      }
      for (const result of results) {
        assert.strictEqual(result.status, "ok")
        assert.strictEqual(result.peakMemoryGb, 20)
        assert.include(result.warnings ?? [], "train used 20.0 GB of GPU memory, over its 16 GB budget")
      }
    }))
})
