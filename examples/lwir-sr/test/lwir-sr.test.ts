/**
 * The phase-1 example end to end, as CI runs it: prepare on synthetic LWIR scenes (smoke
 * size), three CPU experiments with the offline knob proposer, the sandboxed runner and
 * the PSNR-gated scorer, through the real CLI; then the baseline's model predicts the test
 * split, which no experiment saw. Needs a python with torch, numpy and PIL
 * (Debian: python3-torch python3-numpy python3-pil); skips, saying so, without one.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../../..")
const example = path.resolve(import.meta.dirname, "..")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-sr-test-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

const git = (...args: Array<string>) => execFileSync("git", args, { cwd: base, encoding: "utf8", stdio: "pipe" }).trim()

const title = hasTorch
  ? "runs three CPU experiments: the baseline beats bicubic, the journal and git agree"
  : `SKIPPED: no python with torch, numpy and PIL (tried ${python.join(" ")}); Debian: apt-get install python3-torch python3-numpy python3-pil`

describe("examples/lwir-sr", () => {
  it.skipIf(!hasTorch)(title, () => {
    const research = path.join(base, "lwir-sr")
    fs.mkdirSync(research)
    for (const file of ["prepare.py", "train.py", "program.md", "autoresearch.config.ts"]) {
      fs.copyFileSync(path.join(example, file), path.join(research, file))
    }
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "lwir-sr")
    const env: Record<string, string | undefined> = { ...process.env, LWIR_SMOKE: "1", CI: "1", NO_COLOR: "1" }
    delete env.ANTHROPIC_API_KEY
    delete env.OPENAI_API_KEY
    const stdout = execFileSync(
      process.execPath,
      [path.join(root, "packages/cli/dist/bin.js"), "run", "lwir-sr", "--max-experiments", "3", "--budget", "15"],
      { cwd: base, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }
    )
    expect(stdout).toContain("proposer knob")
    // minDelta "auto": the noise floor over three seeds of the baseline sets the threshold, and
    // the run ends with verify's validation/test table (issue 13's done-when for ./dev demo).
    expect(stdout).toMatch(/^noise floor: sd [0-9.e-]+, MAD [0-9.e-]+ over 3 seeds of [0-9a-f]{7}; keep threshold [0-9.e-]+ \(auto: 2 sd\)$/m)
    expect(stdout).toMatch(/^verify val_psnr \(higher is better\), 1 fresh seed each/m)
    expect(stdout).toMatch(/^baseline #0 +[0-9a-f]{7} +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d{4} /m)
    const state = path.join(base, ".autoresearch", "lwir-sr")
    const journal = fs.readFileSync(path.join(state, "journal.jsonl"), "utf8").trim().split("\n").map((line) => JSON.parse(line))
    expect(journal.map((entry) => entry.id)).toEqual([0, 1, 2])

    const baseline = journal[0]
    expect(baseline.status).toBe("keep")
    expect(baseline.flags).not.toContain("below-bicubic")
    const margin = baseline.metrics.val_psnr - baseline.metrics.bicubic_psnr
    console.log(
      `lwir-sr baseline: val_psnr ${baseline.metrics.val_psnr.toFixed(3)} dB, bicubic ${baseline.metrics.bicubic_psnr.toFixed(3)} dB, ` +
        `margin ${margin.toFixed(3)} dB after ${baseline.reported.steps} steps (${baseline.reported.steps_per_second} steps/s)`
    )
    expect(margin).toBeGreaterThan(0.3)
    expect(baseline.metrics.val_ssim).toBeGreaterThan(0)
    expect(baseline.metrics.val_ssim).toBeLessThanOrEqual(1)
    expect(fs.existsSync(path.join(state, "runs", "0", "model.pt"))).toBe(true)
    expect(fs.existsSync(path.join(state, "runs", "0", "predictions.npy"))).toBe(true)

    // Knob proposals: each edits train.py's constants, and every entry is decided.
    for (const entry of journal.slice(1)) {
      expect(entry.description).toMatch(/->/)
      expect(["keep", "discard", "crash", "timeout", "oom", "invalid"]).toContain(entry.status)
      expect(entry.fingerprint).toBe(baseline.fingerprint)
    }
    const kept = journal.filter((entry) => entry.status === "keep")
    expect(git("rev-parse", "refs/heads/autoresearch/lwir-sr")).toBe(kept.at(-1).commit)
    for (const entry of journal.filter((entry) => entry.status !== "keep" && entry.commit !== null)) {
      expect(git("rev-parse", `refs/autoresearch/lwir-sr/discarded/${entry.id}`)).toBe(entry.commit)
    }
    expect(git("-C", path.join(state, "worktree"), "status", "--porcelain")).toBe("")

    // The test split (no experiment saw it): the trusted predict step runs on its inputs as on
    // validation's, and the baseline's predictions beat bicubic there too.
    const cache = path.join(state, "cache")
    const run = path.join(base, "test-split-run")
    fs.mkdirSync(run)
    fs.copyFileSync(path.join(state, "runs", "0", "model.pt"), path.join(run, "model.pt"))
    execFileSync(python[0]!, [...python.slice(1), path.join(research, "prepare.py"), "predict"], {
      cwd: research,
      env: { ...env, AUTORESEARCH_INPUTS_DIR: path.join(cache, "test", "inputs"), AUTORESEARCH_RUN_DIR: run },
      stdio: "pipe"
    })
    const measured = JSON.parse(execFileSync(
      process.execPath,
      [path.join(root, "packages/cli/dist/bin.js"), "metrics", path.join(run, "predictions.npy"), path.join(cache, "test", "hidden", "hr.npy"),
        "--lr", path.join(cache, "test", "inputs", "lr.npy"), "--json"],
      { encoding: "utf8" }
    ))
    expect(measured.prediction.shape).toEqual([64, 128, 128])
    console.log(`lwir-sr baseline on the test split: ${measured.psnr.toFixed(3)} dB, bicubic ${measured.bicubicPsnr.toFixed(3)} dB`)
    expect(measured.psnr).toBeGreaterThan(measured.bicubicPsnr)
  }, 600_000)
})
