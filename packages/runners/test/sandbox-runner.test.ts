import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as LocalRunner from "../src/LocalRunner.ts"
import {
  bubblewrap,
  daemonScript,
  experiment,
  readJson,
  scriptPhase,
  waitDead,
  waitForFile,
  watchProcesses,
  runLocal,
  useLayouts,
  type Staged
} from "./fixtures.ts"

const newLayout = useLayouts()

const run = (experiment: Staged, options: LocalRunner.LocalRunnerOptions = {}) =>
  runLocal(experiment, { sandbox: "required", ...options })

/** Python that tries `attempts` (name -> expression) and writes which succeeded, or the error, to report.json. */
const probeScript = (attempts: Readonly<Record<string, string>>) => `
import json, os
report = {}
${Object.entries(attempts).map(([name, expression]) => `
try:
    value = ${expression}
    report[${JSON.stringify(name)}] = {"ok": True, "value": value if isinstance(value, (str, int, float, list, bool)) else None}
except Exception as error:
    report[${JSON.stringify(name)}] = {"ok": False, "error": type(error).__name__ + ": " + str(error)}`).join("")}
with open(os.path.join(os.environ["AUTORESEARCH_RUN_DIR"], "report.json"), "w") as f:
    json.dump(report, f)
`

type Report = Record<string, { ok: boolean; value?: unknown; error?: string }>

/** Whether python3 can make a virtual environment here (Debian splits venv into python3-venv). */
const venvWorks = (() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "venv-probe-"))
  try {
    execFileSync("python3", ["-m", "venv", "--without-pip", path.join(dir, "venv")], { stdio: "pipe" })
    return true
  } catch {
    return false
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})()
const needsVenv = venvWorks ? "" : " — SKIPPED: python3 -m venv does not work here (apt-get install python3-venv)"

const title = bubblewrap.available ? "the sandbox" : `the sandbox — SKIPPED: ${bubblewrap.reason}`

describe.skipIf(!bubblewrap.available)(title, () => {
  it.live("refuses a connection to a TCP server on 127.0.0.1 that the parent can reach", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      let connections = 0
      const server = net.createServer((socket) => {
        connections++
        socket.end("hello\n")
      })
      yield* Effect.promise(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)))
      const port = (server.address() as net.AddressInfo).port
      const script = probeScript({
        connect: `__import__("socket").create_connection(("127.0.0.1", ${port}), timeout=3).recv(16).decode()`,
        resolve: `__import__("socket").gethostbyname("example.com")`
      })
      const result = yield* run(experiment(layout, "net", [scriptPhase(layout, "train", script)]))
      // the parent reaches the same server, so the refusal is the sandbox's doing
      const parent = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const socket = net.connect(port, "127.0.0.1", () => socket.on("data", (data) => resolve(String(data))))
          socket.on("error", reject)
        })
      )
      server.close()
      assert.strictEqual(result.status, "ok")
      const report = readJson<Report>(experiment(layout, "net", []), "report.json")
      assert.isFalse(report.connect!.ok)
      assert.match(report.connect!.error!, /ConnectionRefusedError|Network is unreachable/)
      assert.isFalse(report.resolve!.ok)
      assert.strictEqual(parent, "hello\n")
      assert.strictEqual(connections, 1)
    }))

  it.live("passes no credential, whatever its name, and hides the parent's environment in /proc", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const fake = {
        FAKE_SERVICE_API_KEY: "not-a-real-key-0123456789",
        OPENAI_API_KEY: "sk-proj-fakefakefakefakefake",
        HARMLESS_LOOKING: "sk-ant-api03-fakefakefakefakefake",
        CUDA_CACHE_TOKEN: "abc",
        AWS_REGION: "eu-west-1"
      }
      Object.assign(process.env, fake)
      try {
        const script = probeScript({
          environ: "sorted(os.environ)",
          parent: `open("/proc/${process.pid}/environ", "rb").read().decode(errors="replace")`
        })
        const phase = scriptPhase(layout, "train", script)
        const result = yield* run(experiment(layout, "env", [phase]), { passEnv: ["OPENAI_API_KEY", "HARMLESS_LOOKING"] })
        assert.strictEqual(result.status, "ok")
        const report = readJson<Report>(experiment(layout, "env", []), "report.json")
        const names = report.environ!.value as Array<string>
        for (const name of Object.keys(fake)) assert.notInclude(names, name)
        assert.includeMembers(names, ["PATH", "HOME", "TMPDIR", "AUTORESEARCH_RUN_DIR", "AUTORESEARCH_SEED", "PYTHONHASHSEED"])
        assert.isFalse(report.parent!.ok)
        assert.deepStrictEqual(result.warnings, ["refused to pass OPENAI_API_KEY, HARMLESS_LOOKING to train: they look like credentials"])
      } finally {
        for (const name of Object.keys(fake)) delete process.env[name]
      }
    }))

  it.live("lets a phase write its run directory and private /tmp only", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const run0 = path.join(layout.runsDir, "writes")
      const write = (file: string) => `open(${JSON.stringify(file)}, "a").write("x") or True`
      const hostTmp = `/tmp/autoresearch-sandbox-${crypto.randomUUID()}`
      const script = probeScript({
        runDir: write(path.join(run0, "artifact.txt")),
        privateTmp: write(hostTmp),
        outside: write(path.join(layout.outside, "escaped.txt")),
        userCheckout: write(path.join(layout.research, "train.py")),
        workdir: write(path.join(layout.workdir, "new.py")),
        trainData: write(path.join(layout.cache.train, "data.txt")),
        home: write(path.join(process.env.HOME ?? "/root", "autoresearch-escaped.txt"))
      })
      const result = yield* run(experiment(layout, "writes", [scriptPhase(layout, "train", script)]))
      assert.strictEqual(result.status, "ok")
      const report = readJson<Report>(experiment(layout, "writes", []), "report.json")
      assert.isTrue(report.runDir!.ok)
      assert.isTrue(report.privateTmp!.ok)
      for (const name of ["outside", "userCheckout", "workdir", "trainData", "home"]) {
        assert.isFalse(report[name]!.ok, name)
        assert.match(report[name]!.error!, /Read-only file system|No such file or directory|Permission denied/, name)
      }
      assert.isFalse(fs.existsSync(hostTmp))
      assert.isFalse(fs.existsSync(path.join(layout.outside, "escaped.txt")))
      assert.strictEqual(fs.readFileSync(path.join(layout.research, "train.py"), "utf8"), "print('the user checkout')\n")
      assert.strictEqual(fs.readFileSync(path.join(layout.cache.train, "data.txt"), "utf8"), "training data\n")
      assert.isFalse(fs.existsSync(path.join(process.env.HOME ?? "/root", "autoresearch-escaped.txt")))
    }))

  it.live("shows neither the hidden targets nor the repository's .git, and the training data read-only", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const read = (file: string) => `open(${JSON.stringify(file)}).read()`
      const script = probeScript({
        targets: read(path.join(layout.cache.hidden, "targets.txt")),
        cacheListing: `sorted(os.listdir(${JSON.stringify(layout.cache.dir)}))`,
        gitHead: read(path.join(layout.repo, ".git", "HEAD")),
        worktreeGit: read(path.join(layout.worktree, ".git")),
        trainData: read(path.join(layout.cache.train, "data.txt")),
        inputs: read(path.join(layout.cache.inputs, "x.txt"))
      })
      const result = yield* run(experiment(layout, "hidden", [scriptPhase(layout, "train", script)]))
      assert.strictEqual(result.status, "ok")
      const report = readJson<Report>(experiment(layout, "hidden", []), "report.json")
      assert.match(report.targets!.error!, /FileNotFoundError/)
      assert.deepStrictEqual(report.cacheListing!.value, ["train"])
      assert.match(report.gitHead!.error!, /FileNotFoundError/)
      assert.isFalse(report.worktreeGit!.ok, "the worktree's .git is not visible either")
      assert.strictEqual(report.trainData!.value, "training data\n")
      // the train phase is not given the validation inputs
      assert.match(report.inputs!.error!, /FileNotFoundError/)
    }))

  it.live("still hides the targets from a phase that may read the whole cache, unless it may write it", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const targets = path.join(layout.cache.hidden, "targets.txt")
      const script = probeScript({ targets: `open(${JSON.stringify(targets)}).read()` })
      yield* run(experiment(layout, "reader", [scriptPhase(layout, "train", script, { readable: [layout.cache.dir] })]))
      assert.isFalse(readJson<Report>(experiment(layout, "reader", []), "report.json").targets!.ok)
      // the trusted prepare phase writes the held-out targets: its writable grant wins
      yield* run(experiment(layout, "prepare", [scriptPhase(layout, "prepare", script, { readable: [], writable: [layout.cache.dir] })]))
      assert.strictEqual(readJson<Report>(experiment(layout, "prepare", []), "report.json").targets!.value, "held-out targets\n")
    }))

  it.live.skipIf(!venvWorks)(`empties the user's home, binding back only the working directory, the granted paths and the interpreter${needsVenv}`, () =>
    Effect.gen(function*() {
      const layout = newLayout()
      // the layout's root stands for the home: the repository, the data and a virtual environment live in it
      const home = layout.root
      fs.mkdirSync(path.join(home, ".config", "tool"), { recursive: true })
      fs.writeFileSync(path.join(home, ".config", "tool", "token"), "a token\n")
      fs.writeFileSync(path.join(home, ".bash_history"), "export SECRET=1\n")
      fs.writeFileSync(path.join(layout.outside, "raw.txt"), "raw data\n")
      const venv = path.join(home, "venv")
      // copies, not links: the interpreter really lives under the home, its base where pyvenv.cfg says
      execFileSync("python3", ["-m", "venv", "--copies", "--without-pip", venv], { stdio: "pipe" })
      const read = (file: string) => `open(${JSON.stringify(file)}).read()`
      const script = probeScript({
        token: read(path.join(home, ".config", "tool", "token")),
        history: read(path.join(home, ".bash_history")),
        outside: read(path.join(layout.outside, "raw.txt")),
        listing: `sorted(os.listdir(${JSON.stringify(home)}))`,
        trainData: read(path.join(layout.cache.train, "data.txt")),
        prefix: "__import__('sys').prefix"
      })
      const phase = scriptPhase(layout, "train", script, { python: path.join(venv, "bin", "python3") })
      const result = yield* run(experiment(layout, "home", [phase]), { hideHome: home })
      assert.strictEqual(result.status, "ok", result.logTail)
      const report = readJson<Report>(experiment(layout, "home", []), "report.json")
      for (const name of ["token", "history", "outside"]) assert.match(report[name]!.error!, /FileNotFoundError/, name)
      assert.deepStrictEqual(report.listing!.value, ["repo", "venv"])
      assert.strictEqual(report.trainData!.value, "training data\n")
      assert.strictEqual(report.prefix!.value, venv)
    }))

  it.live("hides a raw data folder outside the repository from train and predict, not from prepare, which reads it", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const raw = path.join(layout.outside, "raw")
      fs.mkdirSync(raw)
      fs.writeFileSync(path.join(raw, "scene.txt"), "raw scene\n")
      const script = probeScript({ raw: `open(${JSON.stringify(path.join(raw, "scene.txt"))}).read()`, listing: `os.listdir(${JSON.stringify(raw)})` })
      // as the loop does: the sources are hidden from every experiment but prepare, to which they are readable
      const experiments = [
        { ...experiment(layout, "train", [scriptPhase(layout, "train", script)]), hidden: [...layout.hidden, raw] },
        { ...experiment(layout, "predict", [scriptPhase(layout, "predict", script, { readable: [layout.cache.inputs] })]), hidden: [...layout.hidden, raw] },
        experiment(layout, "prepare", [scriptPhase(layout, "prepare", script, { readable: [raw], writable: [layout.cache.dir] })])
      ]
      for (const one of experiments) assert.strictEqual((yield* run(one)).status, "ok", one.id)
      const reports = experiments.map((one) => readJson<Report>(one, "report.json"))
      for (const report of reports.slice(0, 2)) {
        assert.match(report.raw!.error!, /FileNotFoundError/)
        assert.deepStrictEqual(report.listing!.value, [])
      }
      assert.strictEqual(reports[2]!.raw!.value, "raw scene\n")
    }))

  it.live.skipIf(!venvWorks)(`runs a virtual environment's python${needsVenv}`, () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const venv = path.join(layout.root, "venv")
      execFileSync("python3", ["-m", "venv", "--without-pip", venv], { stdio: "pipe" })
      const script = probeScript({ prefix: "__import__('sys').prefix" })
      const phase = scriptPhase(layout, "train", script, { python: path.join(venv, "bin", "python") })
      const result = yield* run(experiment(layout, "venv", [phase]))
      assert.strictEqual(result.status, "ok", result.logTail)
      assert.strictEqual(readJson<Report>(experiment(layout, "venv", []), "report.json").prefix!.value, venv)
    }))

  it.live("leaves no experiment process behind when the process running the runner is SIGKILLed", () =>
    Effect.gen(function*() {
      const layout = newLayout()
      const marker = `orphaned-${crypto.randomUUID()}`
      const phase = scriptPhase(layout, "train", daemonScript(marker, "time.sleep(60)"), { args: [marker], timeoutSeconds: 60 })
      const orphans = experiment(layout, "orphans", [phase])
      const watcher = watchProcesses(marker)
      const child = spawn(process.execPath, [path.join(import.meta.dirname, "run-experiment.ts"), JSON.stringify(orphans)], {
        stdio: "ignore"
      })
      assert.isTrue(yield* Effect.promise(() => waitForFile(path.join(orphans.runDir, "daemons-started"))))
      watcher.stop()
      // bubblewrap and its init, the script, its setsid and its double-forked sleepers
      assert.isAtLeast(watcher.seen.size, 5)
      child.kill("SIGKILL")
      const alive = yield* Effect.promise(() => waitDead(watcher.seen, 3000))
      assert.deepStrictEqual(alive, [])
    }))
})
