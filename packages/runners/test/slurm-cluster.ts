/**
 * A real Slurm for tests: the one running here, else a one-node cluster started with
 * scripts/slurm-local.sh (as root; it installs slurm-wlm and munge with apt). `mustRun`:
 * CI as root, where the Slurm tests may not skip.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"

export const script = path.resolve(import.meta.dirname, "../../../scripts/slurm-local.sh")
const root = process.getuid?.() === 0
export const mustRun = process.env.CI !== undefined && root
const idle = () => spawnSync("sinfo", ["-h", "-o", "%T"], { encoding: "utf8" }).stdout?.trim().split("\n")[0] === "idle"

export const cluster = (() => {
  if (idle()) return { available: true, started: false, reason: "" }
  if (!root) return { available: false, started: false, reason: "not root: cannot start a local Slurm (scripts/slurm-local.sh)" }
  const started = spawnSync("bash", [script, "start"], { encoding: "utf8", timeout: 300_000 })
  return started.status === 0 && idle()
    ? { available: true, started: true, reason: "" }
    : { available: false, started: false, reason: `scripts/slurm-local.sh start failed: ${(started.stderr ?? "").trim().split("\n").at(-1)}` }
})()
if (!cluster.available && !mustRun) console.log(`Slurm tests skipped: ${cluster.reason}`)
