/**
 * Results a reviewer can trust (issue 13): the noise floor measured at the start of a run
 * and on demand, `minDelta: "auto"` keeping by it, the gain of each keep in units of the
 * floor, the test split hidden from every experiment, and `verify` rerunning the best and
 * the baseline with fresh seeds on validation and test. Real CLI, real git, examples/toy
 * with a train.py whose result depends on its seed.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { cliBin, makeToyRepo, readJournal, type ToyRepo, toyTrain, writeCandidate } from "./fixtures.ts"

const cli = (args: ReadonlyArray<string>, cwd: string) => {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
  delete env.FORCE_COLOR
  const result = spawnSync(process.execPath, [cliBin, ...args], { cwd, env, encoding: "utf8", timeout: 240_000 })
  return { code: result.status, output: `${result.stdout}${result.stderr}` }
}

/** Moves the fitted constant by a seed-dependent amount, so that two seeds give two results. */
const jitter = `
_rng = random.Random(int(os.environ.get("AUTORESEARCH_SEED", "0")))
weights[0] += _rng.gauss(0.0, 0.02)
with open(os.path.join(RUN_DIR, "model.json"), "w") as f:
    json.dump({"weights": weights, "scale": SCALE}, f)
`

/** A toy whose baseline is noisy, with `minDelta: "auto"` over three noise runs. */
const noisyToy = (options: { readonly verify?: boolean } = {}) => {
  const repo = makeToyRepo({
    ...options,
    configPatch: (text) =>
      text
        .replace("minDelta: 0.0001", `minDelta: "auto"`)
        .replace("maxExperiments: 5", "maxExperiments: 5, noiseRuns: 3")
  })
  fs.writeFileSync(path.join(repo.research, "train.py"), toyTrain({}, jitter))
  const { root } = repo
  spawnSync("git", ["-C", root, "add", "-A"])
  spawnSync("git", ["-C", root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "noisy"])
  return repo
}

const noiseRecords = (repo: ToyRepo, tag: string) =>
  fs.readFileSync(path.join(repo.stateDir(tag), "noise.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))

let repo: ToyRepo | undefined
afterEach(() => repo?.cleanup())

describe("the noise floor", () => {
  it("is measured after the baseline, sets the auto threshold, and shows each keep's gain in MADs", () => {
    repo = noisyToy()
    // Tiny gains are noise; many more steps are a real gain.
    writeCandidate(repo, "1", "one more step", { "train.py": toyTrain({ STEPS: "301" }, jitter) })
    writeCandidate(repo, "2", "many more steps", { "train.py": toyTrain({ STEPS: "2000" }, jitter) })
    const result = cli(["run", "research", "--proposer", "replay", "--replay-dir", repo.candidates], repo.root)
    expect(result.code, result.output).toBe(0)

    const [noise] = noiseRecords(repo, "research")
    const journal = readJournal(repo, "research")
    expect(noise.values).toHaveLength(3)
    expect(noise.seeds).toEqual([0, 1, 2])
    // The baseline's own run is the first of the three.
    expect(noise.values[0]).toBe(journal[0]!.metrics.val_mse)
    expect(noise.commit).toBe(journal[0]!.commit)
    expect(noise.sd).toBeGreaterThan(0)
    const threshold = 2 * noise.sd
    expect(result.output).toContain(`keep threshold ${threshold.toFixed(4)} (auto: 2 sd)`)

    expect(journal.map((entry) => entry.status)).toEqual(["keep", "discard", "keep"])
    expect(journal[1]!.reason).toContain(`not better by more than ${threshold}`)
    // The incumbent a candidate must beat is the floor's mean, not the baseline's one seed.
    expect(journal[2]!.reason).toContain(`beats incumbent ${noise.mean.toFixed(4)}`)
    // Every entry is bound to where it ran.
    expect(journal[2]!.env.python).toMatch(/^3\./)

    const status = cli(["status", "research"], repo.root)
    expect(status.code, status.output).toBe(0)
    expect(status.output).toMatch(/gain\/MAD/)
    const gain = noise.mean - journal[2]!.metrics.val_mse
    expect(status.output).toContain((gain / noise.mad).toFixed(1))
    expect(status.output).toContain(`noise floor: sd ${noise.sd.toFixed(4)}`)
  }, 300_000)

  it("is measured on demand with `autoresearch noise`, on the branch head, with new seeds", () => {
    repo = noisyToy()
    const measured = cli(["noise", "research", "--runs", "2"], repo.root)
    expect(measured.code, measured.output).toBe(0)
    expect(measured.output).toMatch(/noise run 2\/2 \(seed 2\): val_mse=0\.\d+/)
    const [noise] = noiseRecords(repo, "research")
    expect(noise.seeds).toEqual([1, 2])
    expect(noise.values[0]).not.toBe(noise.values[1])
    // A run that follows judges its first candidate by it, and does not measure again.
    const run = cli(["run", "research", "--max-experiments", "2", "--proposer", "knob"], repo.root)
    expect(run.code, run.output).toBe(0)
    expect(readJournal(repo, "research")).toHaveLength(2)
    expect(run.output).not.toContain("noise run")
    expect(noiseRecords(repo, "research")).toHaveLength(1)
    expect(cli(["noise", "research", "--runs", "1"], repo.root).output).toContain("--runs must be 2 or more")
  }, 300_000)

  it("refuses minDelta auto without two noise runs", () => {
    repo = makeToyRepo({ configPatch: (text) => text.replace("minDelta: 0.0001", `minDelta: "auto"`) })
    const result = cli(["run", "research"], repo.root)
    expect(result.code).toBe(1)
    expect(result.output).toContain(`metric.minDelta: "auto" sets the threshold from the noise floor: it needs budget.noiseRuns of 2 or more`)
  })
})

describe("the test split and verify", () => {
  it("keeps the test split from every experiment, and verify scores it at the end of a run", () => {
    repo = noisyToy({ verify: true })
    // A candidate that looks for the test split fails loudly if it can see it.
    const peek = `
_test = os.path.join(os.path.dirname(DATA_DIR), "test")
if os.path.exists(os.path.join(_test, "hidden", "y.json")) or os.path.exists(os.path.join(_test, "inputs", "x.json")):
    raise SystemExit("the test split is visible to train.py")
`
    writeCandidate(repo, "1", "many more steps", { "train.py": toyTrain({ STEPS: "2000" }, jitter + peek) })
    const result = cli(["run", "research", "--proposer", "replay", "--replay-dir", repo.candidates], repo.root)
    expect(result.code, result.output).toBe(0)
    const journal = readJournal(repo, "research")
    expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep"])

    const verification = JSON.parse(fs.readFileSync(path.join(repo.stateDir("research"), "verify.jsonl"), "utf8").trim())
    expect(verification.rows.map((row: { role: string }) => row.role)).toEqual(["baseline", "best"])
    for (const row of verification.rows) {
      expect(row.validation.values).toHaveLength(2)
      expect(row.test.values).toHaveLength(2)
      // Fresh seeds, none of the run's own.
      expect(row.validation.seeds).toEqual([1_000_001, 1_000_002])
    }
    expect(verification.reproduces).toBe(true)
    expect(verification.testGain).toBeGreaterThan(0)
    expect(verification.testGainReal).toBe(true)
    expect(result.output).toMatch(/baseline #0 +[0-9a-f]{7} +0\.\d{4} +0\.\d{4} ± [0-9.e-]+ +0\.\d{4} ± /)
    expect(result.output).toContain("reproduces: yes")
    expect(result.output).toContain("test gain over the baseline: +")
    // The research branch is where it was.
    const worktree = path.join(repo.stateDir("research"), "worktree")
    expect(spawnSync("git", ["-C", worktree, "rev-parse", "HEAD"], { encoding: "utf8" }).stdout.trim()).toBe(journal[1]!.commit)
    expect(spawnSync("git", ["-C", worktree, "rev-parse", "--abbrev-ref", "HEAD"], { encoding: "utf8" }).stdout.trim()).toBe("autoresearch/research")
  }, 300_000)

  it("verifies a chosen commit on demand, warns when the environment differs, and names an unknown commit", () => {
    repo = noisyToy()
    expect(cli(["run", "research", "--max-experiments", "1"], repo.root).code).toBe(0)
    // Pretend the baseline ran on another torch.
    const file = path.join(repo.stateDir("research"), "journal.jsonl")
    const [baseline] = readJournal(repo, "research")
    fs.writeFileSync(file, JSON.stringify({ ...baseline, env: { ...baseline!.env, torch: "0.0.1" } }) + "\n")

    const verified = cli(["verify", "research", "--commit", baseline!.commit.slice(0, 8), "--seeds", "1"], repo.root)
    expect(verified.code, verified.output).toBe(0)
    expect(verified.output).toMatch(/verify val_mse \(lower is better\), 1 fresh seed each/)
    expect(verified.output).toContain("warning: experiment 0 ran in another environment (torch: 0.0.1 -> ")
    const unknown = cli(["verify", "research", "--commit", "ffffffff"], repo.root)
    expect(unknown.code).toBe(1)
    expect(unknown.output).toContain("no kept experiment has a commit starting with 'ffffffff'")
  }, 300_000)
})
