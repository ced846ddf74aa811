/**
 * Real-data check: for each set in ../shared/data/lwir-real (8-bit roadscene, 16-bit
 * radiometric), runs the example's baseline once through the real CLI (prepare on the
 * real frames, a short CPU training, predict, the PSNR-gated scorer) and prints the
 * bicubic PSNR and the model's PSNR. Run from the repository root after `./dev setup`:
 *
 *   node examples/lwir-sr/bench/real-data.ts [training seconds, default 60]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../../..")
const example = path.join(root, "examples/lwir-sr")
const shared = path.resolve(root, "../shared/data/lwir-real")
const seconds = process.argv[2] ?? "60"
if (!fs.existsSync(shared)) {
  console.log(`skipped: ${shared} not found (the real LWIR sets live beside the repository)`)
  process.exit(0)
}

const rows: Array<string> = []
for (const set of ["roadscene", "radiometric16"]) {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-real-"))
  const research = path.join(base, "lwir-sr")
  fs.mkdirSync(research)
  for (const file of ["prepare.py", "train.py", "program.md", "autoresearch.config.ts"]) {
    fs.copyFileSync(path.join(example, file), path.join(research, file))
  }
  const git = (...args: Array<string>) => execFileSync("git", args, { cwd: base, stdio: "pipe" })
  git("init", "-q", "-b", "main")
  git("add", "-A")
  git("-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "lwir-sr")
  const started = Date.now()
  execFileSync(process.execPath, [path.join(root, "packages/cli/dist/bin.js"), "run", research, "--tag", set, "--max-experiments", "1", "--verify-seeds", "0", "--budget", seconds], {
    cwd: base,
    env: { ...process.env, LWIR_DATA: path.join(shared, set), LWIR_SMOKE: "1", CI: "1", NO_COLOR: "1" },
    stdio: ["ignore", "inherit", "inherit"]
  })
  const entry = JSON.parse(fs.readFileSync(path.join(base, ".autoresearch", set, "journal.jsonl"), "utf8").split("\n")[0]!)
  const { val_psnr, bicubic_psnr, val_ssim, bicubic_ssim } = entry.metrics
  rows.push(
    `${set.padEnd(14)} bicubic ${bicubic_psnr.toFixed(3)} dB  model ${val_psnr.toFixed(3)} dB  gain ${(val_psnr - bicubic_psnr).toFixed(3)} dB` +
      `  ssim ${bicubic_ssim?.toFixed(4) ?? "-"} -> ${val_ssim.toFixed(4)}  (${seconds} s training, ${((Date.now() - started) / 1000).toFixed(0)} s in all)`
  )
  fs.rmSync(base, { recursive: true, force: true })
}
console.log(`\nreal LWIR data, x4, baseline train.py:\n${rows.join("\n")}`)
