/**
 * End-to-end tests of `autoresearch promote`: a real toy research run (replay proposer,
 * real git), promoted by the built CLI into another directory, and checked against the
 * journal, the run directory and git. The toy's train.py saves `model.json` in its run
 * directory, so the tests promote that (`--artifact model.json`).
 */
import { Promote } from "@autoresearch/core"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { cliBin, git, makeToyRepo, plain, readJournal, type ToyRepo, toyTrain, writeCandidate } from "./fixtures.ts"

interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (args: ReadonlyArray<string>, cwd: string, timeoutMs = 60_000) =>
  new Promise<CliResult>((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
    delete env.FORCE_COLOR
    const child = spawn(process.execPath, [cliBin, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: plain(stdout), stderr: plain(stderr) })
    })
  })

/** A refusal: exit code 1, one `autoresearch: error:` line matching `pattern`, nothing on stdout. */
const expectRefused = (result: CliResult, pattern: RegExp) => {
  expect(result.code, result.stdout + result.stderr).toBe(1)
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "")
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^autoresearch: error: /)
  expect(lines[0]).toMatch(pattern)
  expect(result.stdout).toBe("")
}

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex")
/** A file's bytes at a commit, untrimmed. */
const show = (root: string, spec: string) => execFileSync("git", ["show", spec], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })

/** Every file below `dir`, relative to it, sorted. */
const listFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()

// One research run shared by the tests: #0 baseline (keep), #1 learning rate 0.1 (keep), #2 a line (discard).
let repo: ToyRepo
let runDir: (id: number) => string
let best: Record<string, any>
const tag = "phase1"
let scratch: Array<string> = []

/** A new, empty destination research directory. */
const destination = () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-promote-to-")))
  scratch.push(dir)
  return dir
}

beforeAll(async () => {
  repo = makeToyRepo()
  writeCandidate(repo, "01-lr", "learning rate 0.1", { "train.py": toyTrain({ LEARNING_RATE: "0.1" }) })
  writeCandidate(repo, "02-line", "a line", { "train.py": toyTrain({ DEGREE: "1" }) })
  const result = await cli(
    ["run", "research", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", tag, "--max-experiments", "3"],
    repo.root
  )
  expect(result.code, result.stderr).toBe(0)
  const journal = readJournal(repo, tag)
  expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard"])
  best = journal[1]!
  runDir = (id) => path.join(repo.stateDir(tag), "runs", String(id))
})

afterEach(() => {
  for (const dir of scratch) fs.rmSync(dir, { recursive: true, force: true })
  scratch = []
})

afterAll(() => repo?.cleanup())

describe("autoresearch promote", () => {
  it("copies the best kept experiment's artifact, its train.py at that commit, and its provenance", async () => {
    const to = destination()
    const result = await cli(["promote", "research", to, "--tag", tag, "--artifact", "model.json"], repo.root)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe("")
    const into = path.join(to, "promoted")
    expect(listFiles(into)).toEqual(["model.json", "provenance.json", "source/train.py"])
    expect(fs.readdirSync(to)).toEqual(["promoted"])

    // The artifact, byte for byte; the source as committed in that experiment's commit.
    expect(fs.readFileSync(path.join(into, "model.json"))).toEqual(fs.readFileSync(path.join(runDir(1), "model.json")))
    expect(fs.readFileSync(path.join(into, "source/train.py"))).toEqual(show(repo.root, `${best.commit}:research/train.py`))
    expect(fs.readFileSync(path.join(into, "source/train.py"), "utf8")).toBe(toyTrain({ LEARNING_RATE: "0.1" }))

    const provenance = JSON.parse(fs.readFileSync(path.join(into, "provenance.json"), "utf8"))
    expect(provenance.from).toEqual({ dir: "research", tag, branch: `autoresearch/${tag}`, id: 1, commit: best.commit })
    expect(provenance.metric).toEqual({ name: "val_mse", direction: "min", value: best.metrics.val_mse })
    expect(provenance.description).toBe("learning rate 0.1")
    expect(provenance.hypothesis).toBe(best.hypothesis)
    expect(provenance.fingerprint).toBe(best.fingerprint)
    expect(Date.parse(provenance.promotedAt)).toBeGreaterThan(Date.now() - 60_000)
    expect(provenance.files).toEqual({
      "model.json": sha256(path.join(runDir(1), "model.json")),
      "source/train.py": sha256(path.join(into, "source/train.py"))
    })
    // Pretty-printed.
    expect(fs.readFileSync(path.join(into, "provenance.json"), "utf8")).toBe(JSON.stringify(provenance, null, 2) + "\n")

    const lines = result.stdout.trim().split("\n")
    expect(lines[0]).toMatch(new RegExp(`^promoted #1 of autoresearch/${tag}: val_mse 0\\.\\d{4} \\(lower is better\\) at ${best.commit.slice(0, 7)}: learning rate 0\\.1$`))
    expect(lines.filter((line) => line.startsWith("wrote "))).toHaveLength(3)
    for (const file of ["model.json", "source/train.py", "provenance.json"]) {
      expect(result.stdout).toContain(`wrote ${path.join(into, file)} (`)
    }
    expect(result.stdout).not.toContain("replaced")
    expect(lines.at(-1)).toBe(
      `next: git add ${into} && git commit: the files are immutable inputs of ${to}'s research, so start a new --tag there`
    )
  })

  it("promotes the experiment --id names", async () => {
    const to = destination()
    const result = await cli(["promote", "research", to, "--tag", tag, "--id", "0", "--artifact", "model.json", "--into", "phase1/baseline"], repo.root)
    expect(result.code, result.stderr).toBe(0)
    const into = path.join(to, "phase1", "baseline")
    const baseline = readJournal(repo, tag)[0]!
    const provenance = JSON.parse(fs.readFileSync(path.join(into, "provenance.json"), "utf8"))
    expect(provenance.from.id).toBe(0)
    expect(provenance.from.commit).toBe(baseline.commit)
    expect(provenance.metric.value).toBe(baseline.metrics.val_mse)
    expect(fs.readFileSync(path.join(into, "model.json"))).toEqual(fs.readFileSync(path.join(runDir(0), "model.json")))
    expect(fs.readFileSync(path.join(into, "source/train.py"))).toEqual(show(repo.root, `${baseline.commit}:research/train.py`))
    expect(fs.readdirSync(path.join(to, "phase1"))).toEqual(["baseline"])
  })

  it("the CLI refuses a discarded --id, a missing or symlinked artifact and a missing TO, writing nothing", async () => {
    const to = destination()
    const promote = (...args: Array<string>) => cli(["promote", "research", to, "--tag", tag, ...args], repo.root)
    fs.symlinkSync("model.json", path.join(runDir(1), "link.json"))
    const missing = path.join(to, "no-such-dir")
    try {
      // These read the same run and write nothing, so they run side by side.
      const [discarded, noModel, link, noTo] = await Promise.all([
        promote("--id", "2", "--artifact", "model.json"),
        // The default artifact, model.pt: the toy saves model.json instead.
        promote(),
        promote("--artifact", "model.json", "--artifact", "link.json"),
        cli(["promote", "research", missing, "--tag", tag, "--artifact", "model.json"], repo.root)
      ])
      expectRefused(discarded!, /experiment 2 of research run 'phase1' was not kept \(status discard\); only a kept experiment can be promoted \(pick a kept one/)
      expectRefused(noModel!, /run 1 left no model\.pt \(.*runs\/1\/model\.pt\); was it cleaned, or does train\.py save under another name\? use --artifact$/)
      expectRefused(link!, /runs\/1\/link\.json is a symbolic link, not a regular file/)
      expectRefused(noTo!, /destination research directory not found: .*no-such-dir/)
    } finally {
      fs.rmSync(path.join(runDir(1), "link.json"), { force: true })
    }
    expect(fs.readdirSync(to)).toEqual([])
    expect(fs.existsSync(missing)).toBe(false)
  })

  it("Promote.promote refuses the other bad requests, writing nothing", async () => {
    const to = destination()
    const refusal = async (options: Partial<Promote.PromoteOptions>) => {
      const error = await Effect.runPromise(
        Promote.promote({
          from: repo.research,
          tag,
          to,
          config: { metric: { name: "val_mse", direction: "min" }, mutable: ["train.py"], phases: { train: ["train.py"] } },
          artifacts: ["model.json"],
          ...options
        }).pipe(Effect.flip)
      )
      return error.message
    }
    // Symbolic links planted in the run directory are not followed, whatever they point to.
    const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "autoresearch-promote-outside-")))
    scratch.push(outside)
    fs.writeFileSync(path.join(outside, "model.json"), "{}")
    fs.symlinkSync(path.join(outside, "model.json"), path.join(runDir(1), "outside.json"))
    fs.symlinkSync(outside, path.join(runDir(1), "sub"))
    fs.mkdirSync(path.join(runDir(1), "real"))
    try {
      expect(await refusal({ artifacts: ["outside.json"] })).toMatch(/runs\/1\/outside\.json is a symbolic link, not a regular file/)
      expect(await refusal({ artifacts: ["sub/model.json"] })).toMatch(/runs\/1\/sub is a symbolic link, not a folder/)
      expect(await refusal({ artifacts: ["real"] })).toMatch(/runs\/1\/real is a directory, not a regular file/)
    } finally {
      for (const name of ["outside.json", "sub", "real"]) fs.rmSync(path.join(runDir(1), name), { recursive: true, force: true })
    }
    expect(await refusal({ id: 7 })).toMatch(/research run 'phase1' has no experiment 7 \(it has 0 to 2\)/)
    expect(await refusal({ artifacts: ["model.json", "weights.bin"] })).toMatch(
      /run 1 left no weights\.bin \(.*runs\/1\/weights\.bin\); was it cleaned, or does train\.py save/
    )
    expect(await refusal({ into: "../elsewhere" })).toBe("--into '../elsewhere' must be a relative path inside its folder, without '..'")
    expect(await refusal({ into: "." })).toMatch(/--into '\.' must be a relative path/)
    expect(await refusal({ artifacts: ["../0/model.json"] })).toMatch(/--artifact '\.\.\/0\/model\.json' must be a relative path/)
    expect(await refusal({ artifacts: ["provenance.json"] })).toMatch(/would overwrite the promotion's own provenance\.json/)
    expect(await refusal({ tag: "nope" })).toMatch(/no research run 'nope' in .*research yet/)
    expect(fs.readdirSync(to)).toEqual([])
    expect(fs.existsSync(path.join(path.dirname(to), "elsewhere"))).toBe(false)

    // An existing folder that is not an earlier promotion is never replaced.
    fs.mkdirSync(path.join(to, "src"))
    fs.writeFileSync(path.join(to, "src", "mine.py"), "print('mine')\n")
    expect(await refusal({ into: "src" })).toMatch(/src exists and is not an earlier promotion \(it has no provenance\.json\)/)
    expect(listFiles(to)).toEqual(["src/mine.py"])
  })

  it("promoting again replaces the earlier promotion whole", async () => {
    const to = destination()
    const first = await cli(["promote", "research", to, "--tag", tag, "--artifact", "model.json", "--artifact", "train.log"], repo.root)
    expect(first.code, first.stderr).toBe(0)
    const into = path.join(to, "promoted")
    expect(listFiles(into)).toEqual(["model.json", "provenance.json", "source/train.py", "train.log"])
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(into, "provenance.json"), "utf8")).files)).toEqual([
      "model.json",
      "train.log",
      "source/train.py"
    ])

    const second = await cli(["promote", "research", to, "--tag", tag, "--artifact", "model.json"], repo.root)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout).toContain(`replaced the earlier promotion in ${into} whole`)
    expect(listFiles(into)).toEqual(["model.json", "provenance.json", "source/train.py"])
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(into, "provenance.json"), "utf8")).files)).toEqual([
      "model.json",
      "source/train.py"
    ])
    // No temporary or set-aside folder is left beside it.
    expect(fs.readdirSync(to)).toEqual(["promoted"])
  })

  it("a failure while writing leaves the earlier promotion as it was and no temporary folder", async () => {
    const to = destination()
    const first = await cli(["promote", "research", to, "--tag", tag, "--artifact", "model.json"], repo.root)
    expect(first.code, first.stderr).toBe(0)
    const into = path.join(to, "promoted")
    const before = Object.fromEntries(listFiles(into).map((file) => [file, fs.readFileSync(path.join(into, file), "utf8")]))

    // Too big an artifact is found only while reading it, once the new folder is begun.
    const error = await Effect.runPromise(
      Promote.promote({
        from: repo.research,
        tag,
        to,
        config: { metric: { name: "val_mse", direction: "min" }, mutable: ["train.py"] },
        artifacts: ["model.json", "train.log"],
        maxArtifactBytes: 60
      }).pipe(Effect.flip)
    )
    expect(error._tag).toBe("PromoteError")
    expect(error.message).toMatch(/model\.json is larger than 60 bytes/)
    expect(fs.readdirSync(to)).toEqual(["promoted"])
    expect(Object.fromEntries(listFiles(into).map((file) => [file, fs.readFileSync(path.join(into, file), "utf8")]))).toEqual(before)
  })

  it("a source with no run yet, or no kept experiment, gives a clear error", async () => {
    const to = destination()
    // A baseline that crashes: a run with no kept experiment.
    const broken = makeToyRepo()
    scratch.push(path.dirname(broken.root))
    fs.appendFileSync(path.join(broken.research, "train.py"), "\nraise RuntimeError('boom')\n")
    git(broken.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qam", "a crashing baseline")
    const [noRun] = await Promise.all([
      // The shared repository has no run under the default tag, the directory's name.
      cli(["promote", "research", to, "--artifact", "model.json"], repo.root),
      cli(["run", "research", "--replay-dir", broken.candidates, "--tag", "crashed", "--max-experiments", "1"], broken.root)
    ])
    expectRefused(noRun!, /no research run 'research' in research yet \(run `autoresearch run research --tag research` first\)/)
    expect(readJournal(broken, "crashed").map((entry) => entry.status)).toEqual(["crash"])
    expectRefused(
      await cli(["promote", "research", to, "--tag", "crashed", "--artifact", "model.json"], broken.root),
      /research run 'crashed' has no kept experiment yet \(1 experiment, none kept with val_mse\) \(see why with `autoresearch status research --tag crashed`\)/
    )
    expect(fs.readdirSync(to)).toEqual([])
  })
})
