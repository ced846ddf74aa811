/**
 * `autoresearch run --runner slurm` end to end on a real one-node Slurm: the toy example's
 * first replay candidates (a keep, a discard and a crash), every phase a batch job run
 * through LocalRunner on the node. Skips, saying so, where no Slurm can be had; in CI as
 * root it must run.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { cluster, mustRun, script } from "../../runners/test/slurm-cluster.ts"
import { cliBin, makeToyRepo, plain, readJournal, toyDir } from "./fixtures.ts"

describe.skipIf(!cluster.available && !mustRun)(`run --runner slurm${cluster.available ? "" : ` (${cluster.reason})`}`, () => {
  afterAll(() => {
    if (cluster.started) spawnSync("bash", [script, "stop"])
  })

  it("runs the toy's candidates as Slurm jobs: kept, discarded, crashed", () => {
    if (!cluster.available) throw new Error(`CI as root must run the Slurm tests: ${cluster.reason}`)
    const repo = makeToyRepo()
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
      delete env.FORCE_COLOR
      // The toy's first three candidates: a keep, a discard and a crash.
      for (const name of ["01-degree-5", "02-degree-1", "03-crash"]) {
        fs.cpSync(path.join(toyDir, "candidates", name), path.join(repo.candidates, name), { recursive: true })
      }
      const stdout = plain(execFileSync(process.execPath, [
        cliBin, "run", "research", "--runner", "slurm", "--proposer", "replay", "--replay-dir", repo.candidates, "--tag", "slurm"
      ], { cwd: repo.root, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000 }))
      expect(stdout).toContain("finished")
      const journal = readJournal(repo, "slurm")
      expect(journal.map((entry) => entry.status)).toEqual(["keep", "keep", "discard", "crash"])
      const runs = path.join(repo.stateDir("slurm"), "runs")
      // Each experiment's phases were batch jobs: their scripts and Slurm's own output are in the run directory.
      for (const id of ["0", "1", "2"]) {
        for (const phase of ["train", "predict"]) {
          expect(fs.existsSync(path.join(runs, id, `${phase}.slurm.sh`)), `${id}/${phase}`).toBe(true)
          expect(fs.existsSync(path.join(runs, id, `${phase}.slurm.result.json`)), `${id}/${phase}`).toBe(true)
        }
      }
      expect(journal[3]!.reason).toMatch(/train/)
      expect(fs.existsSync(path.join(runs, "3", "predict.slurm.sh"))).toBe(false)
      expect(execFileSync("squeue", ["-h", "--me", "-o", "%j"], { encoding: "utf8" })).not.toContain("autoresearch-")
    } finally {
      repo.cleanup()
    }
  }, 300_000)
})
