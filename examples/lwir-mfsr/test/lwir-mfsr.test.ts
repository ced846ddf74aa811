/**
 * The phase-3 example end to end, as CI runs it, through the real CLI on the CPU smoke task
 * (bursts of 4, tiny patches): the knob search over the fusion and loss, a train.py that
 * widens the frozen encoder (refused as invalid), and `promote` from a small phase-1 run,
 * after which the pipeline trains and predicts with the promoted backbone. Needs a python
 * with torch, numpy and PIL (Debian: python3-torch python3-numpy python3-pil); skips,
 * saying so, without one.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../../..")
const examples = path.join(root, "examples")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-mfsr-test-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

const git = (...args: Array<string>) => execFileSync("git", args, { cwd: base, encoding: "utf8", stdio: "pipe" }).trim()
const commit = (message: string) => {
  git("add", "-A")
  git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", message)
}
const env: Record<string, string | undefined> = { ...process.env, LWIR_SMOKE: "1", CI: "1", NO_COLOR: "1" }
delete env.ANTHROPIC_API_KEY
delete env.OPENAI_API_KEY
delete env.OPENAI_BASE_URL
// The three files run on two workers: a training with every core beside another runs several times slower.
const oneThread = ["--threads", "1"]
const cli = (...args: Array<string>) =>
  execFileSync(process.execPath, [path.join(root, "packages/cli/dist/bin.js"), ...args], {
    cwd: base,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })
const journal = (tag: string) =>
  fs.readFileSync(path.join(base, ".autoresearch", tag, "journal.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
const log = (tag: string, id: number, phase: string) =>
  fs.readFileSync(path.join(base, ".autoresearch", tag, "runs", String(id), `${phase}.log`), "utf8")

const skipped = `SKIPPED: no python with torch, numpy and PIL (tried ${python.join(" ")}); Debian: apt-get install python3-torch python3-numpy python3-pil`
const title = (what: string) => (hasTorch ? what : skipped)

describe("examples/lwir-mfsr", () => {
  beforeAll(() => {
    if (!hasTorch) return
    for (const example of ["lwir-sr", "lwir-mfsr"]) {
      fs.mkdirSync(path.join(base, example))
      for (const file of fs.readdirSync(path.join(examples, example))) {
        const from = path.join(examples, example, file)
        if (fs.statSync(from).isFile()) fs.copyFileSync(from, path.join(base, example, file))
      }
    }
    // The noise floor is examples/lwir-sr's test to check; here its trainings would only cost CI minutes.
    for (const example of ["lwir-sr", "lwir-mfsr"]) {
      const config = path.join(base, example, "autoresearch.config.ts")
      const text = fs.readFileSync(config, "utf8")
      // Without a noise floor, a fixed keep threshold stands in for minDelta "auto".
      const patched = text.replace("noiseRuns: 3, verifySeeds: 1 }", "noiseRuns: 0, verifySeeds: 1 }").replace('minDelta: "auto"', "minDelta: 0.02")
      if (!patched.includes("noiseRuns: 0") || !patched.includes("minDelta: 0.02")) throw new Error(`${example}'s smoke budget changed: update the test that turns its noise runs off`)
      fs.writeFileSync(config, patched)
    }
    git("init", "-q", "-b", "main")
    commit("lwir-sr and lwir-mfsr")
  })

  it.skipIf(!hasTorch)(title("searches fusion and loss with the knob proposer: the baseline beats bicubic of the reference frame"), () => {
    const stdout = cli("run", "lwir-mfsr", "--max-experiments", "2", "--budget", "30", "--verify-seeds", "0", ...oneThread)
    expect(stdout).toContain("proposer knob")
    const entries = journal("lwir-mfsr")
    expect(entries.map((entry) => entry.id)).toEqual([0, 1])
    const baseline = entries[0]
    expect(baseline.status).toBe("keep")
    expect(baseline.flags).not.toContain("below-bicubic")
    const { val_psnr, bicubic_psnr, shift_add_psnr, val_ssim } = baseline.metrics
    console.log(
      `lwir-mfsr baseline: val_psnr ${val_psnr.toFixed(3)} dB, bicubic ${bicubic_psnr.toFixed(3)} dB, ` +
        `shift-and-add ${shift_add_psnr.toFixed(3)} dB after ${baseline.reported.steps} steps (${baseline.reported.steps_per_second} steps/s)`
    )
    expect(val_psnr - bicubic_psnr).toBeGreaterThan(0.1)
    expect(shift_add_psnr).toBeGreaterThan(bicubic_psnr)
    expect(val_ssim).toBeGreaterThan(0)
    expect(log("lwir-mfsr", 0, "predict")).toContain("default encoder")
    for (const entry of entries.slice(1)) {
      expect(entry.description).toMatch(/->/)
      expect(["keep", "discard", "crash", "timeout", "oom", "invalid"]).toContain(entry.status)
      // every experiment carries both baselines, whatever it scored
      if (entry.status === "keep" || entry.status === "discard") expect(entry.metrics.shift_add_psnr).toBe(shift_add_psnr)
    }
    const kept = entries.filter((entry) => entry.status === "keep")
    expect(git("rev-parse", "refs/heads/autoresearch/lwir-mfsr")).toBe(kept.at(-1).commit)
  }, 900_000)

  it.skipIf(!hasTorch)(title("refuses a train.py that widens the frozen encoder, as invalid, with the reason"), () => {
    const candidates = path.join(base, "candidates")
    fs.mkdirSync(path.join(candidates, "01-wider-encoder"), { recursive: true })
    const train = fs.readFileSync(path.join(examples, "lwir-mfsr", "train.py"), "utf8")
    const wider = train.replace(/^import prepare$/m, "import prepare\n\nmfsr.ENCODER_CHANNELS = 48  # wider than the frozen pipeline")
    expect(wider).not.toBe(train)
    fs.writeFileSync(path.join(candidates, "01-wider-encoder", "train.py"), wider)
    fs.writeFileSync(path.join(candidates, "01-wider-encoder", "DESCRIPTION"), "a wider encoder\nMore features per frame.\n")
    cli("run", "lwir-mfsr", "--tag", "frozen", "--proposer", "replay", "--replay-dir", candidates, "--max-experiments", "2", "--budget", "5", "--verify-seeds", "0", ...oneThread)
    const [baseline, wider_] = journal("frozen")
    expect(baseline.status).toBe("keep")
    expect(wider_.status).toBe("invalid")
    expect(wider_.reason).toMatch(/frozen architecture .* was changed: .*encoder\./)
    expect(wider_.reason).toContain("mfsr.py builds")
    expect(git("rev-parse", "refs/heads/autoresearch/frozen")).toBe(baseline.commit)
  }, 600_000)

  it.skipIf(!hasTorch)(title("promote carries a phase-1 winner into phase 3, whose pipeline then trains on the promoted backbone"), () => {
    cli("run", "lwir-sr", "--max-experiments", "1", "--budget", "10", "--verify-seeds", "0", ...oneThread)
    const [winner] = journal("lwir-sr")
    expect(winner.status).toBe("keep")
    const printed = cli("promote", "lwir-sr", "lwir-mfsr")
    expect(printed).toContain("model.pt")
    const promoted = path.join(base, "lwir-mfsr", "promoted")
    expect(fs.readFileSync(path.join(promoted, "model.pt"))).toEqual(
      fs.readFileSync(path.join(base, ".autoresearch", "lwir-sr", "runs", "0", "model.pt"))
    )
    const provenance = JSON.parse(fs.readFileSync(path.join(promoted, "provenance.json"), "utf8"))
    expect(provenance.from.commit).toBe(winner.commit)
    expect(provenance.metric.value).toBe(winner.metrics.val_psnr)
    expect(provenance.fingerprint).toBe(winner.fingerprint)

    // Uncommitted, the promoted files are refused: they are immutable inputs of phase 3.
    expect(() => cli("run", "lwir-mfsr", "--tag", "promoted", "--max-experiments", "1", "--budget", "10", "--verify-seeds", "0", ...oneThread)).toThrow(/not committed/)
    commit("promote the phase-1 winner")
    cli("run", "lwir-mfsr", "--tag", "promoted", "--max-experiments", "1", "--budget", "10", "--verify-seeds", "0", ...oneThread)
    const [baseline] = journal("promoted")
    expect(baseline.status).toBe("keep")
    expect(log("promoted", 0, "train")).toContain("encoder promoted")
    expect(log("promoted", 0, "predict")).toContain("promoted backbone")
  }, 600_000)
})
