import { assert, describe, it } from "@effect/vitest"
import { type PhaseEnd, triage } from "../src/Triage.ts"

const end = (fields: Partial<PhaseEnd>): PhaseEnd => ({
  phase: "train",
  exitCode: 0,
  signal: null,
  timedOut: false,
  interrupted: false,
  timeoutSeconds: 330,
  logTail: "",
  ...fields
})

const underCgroup = (counters: { oomKills?: number; limitHits?: number; forksRefused?: number } = {}) => ({
  memory: {
    capGb: 0.2,
    enforcedBy: "cgroup" as const,
    ...(counters.oomKills === undefined ? {} : { oomKills: counters.oomKills }),
    ...(counters.limitHits === undefined ? {} : { limitHits: counters.limitHits })
  },
  processes: { cap: 20, enforcedBy: "cgroup" as const, ...(counters.forksRefused === undefined ? {} : { forksRefused: counters.forksRefused }) },
  fileSizeGb: 0.01
})

const forkTraceback = [
  "Traceback (most recent call last):",
  "  File \"train.py\", line 3, in <module>",
  "BlockingIOError: [Errno 11] Resource temporarily unavailable",
  ""
].join("\n")

describe("triage of a phase under caps", () => {
  it("calls a phase the runner stopped for its run directory killed, flagged disk-full", () => {
    assert.deepStrictEqual(
      triage(end({ exitCode: null, signal: "SIGKILL", caps: { stoppedFor: { cap: "run-dir", usedGb: 0.0523, capGb: 0.01 } } })),
      {
        status: "killed",
        reason: "train wrote 0.0523 GB into its run directory, over its run-directory cap of 0.01 GB, and was killed",
        flags: ["disk-full"]
      }
    )
    assert.deepStrictEqual(
      triage(end({ exitCode: null, signal: "SIGKILL", caps: { stoppedFor: { cap: "run-dir", usedGb: 0.001, capGb: 20, tooManyFiles: 200000 } } })),
      {
        status: "killed",
        reason: "train made more than 200000 files in its run directory and was killed (run-directory cap)",
        flags: ["disk-full"]
      }
    )
  })

  it("calls a phase the runner stopped for its GPU memory oom, flagged vram-exceeded, with what was measured", () => {
    const stoppedFor = { cap: "vram" as const, usedGb: 41.94, budgetGb: 40, allowanceGb: 1 }
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGKILL", caps: { stoppedFor } })), {
      status: "oom",
      reason: "train used 41.9 GB of GPU memory (measured by nvidia-smi), over its VRAM budget of 40 GB (+1 GB for the CUDA context), and was killed",
      flags: ["vram-exceeded"]
    })
  })

  it("puts a cap stop before a timeout that came with it, and an interruption before both", () => {
    const caps = { stoppedFor: { cap: "run-dir" as const, usedGb: 1, capGb: 0.5 } }
    assert.strictEqual(triage(end({ timedOut: true, exitCode: null, signal: "SIGKILL", caps })).status, "killed")
    assert.strictEqual(triage(end({ timedOut: true, exitCode: null, signal: "SIGKILL", caps })).flags?.[0], "disk-full")
    assert.isUndefined(triage(end({ interrupted: true, exitCode: null, signal: "SIGKILL", caps })).flags)
  })

  it("calls an OOM kill the cgroup counted oom at the host memory cap, whatever the log says", () => {
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGKILL", caps: underCgroup({ oomKills: 1, limitHits: 40 }) })), {
      status: "oom",
      reason: "train was killed by the out-of-memory killer at its host memory cap of 0.2 GB (killed by SIGKILL)",
      flags: ["memory-cap"]
    })
    // a worker was killed, and the main process died of it with a traceback
    const verdict = triage(end({ exitCode: 1, logTail: "RuntimeError: DataLoader worker (pid 12) is killed by signal: Killed.\n", caps: underCgroup({ oomKills: 1 }) }))
    assert.strictEqual(verdict.status, "oom")
    assert.deepStrictEqual(verdict.flags, ["memory-cap"])
  })

  it("takes a hit limit and a SIGKILL for an OOM kill where the kernel counts no kills (old v1)", () => {
    assert.strictEqual(triage(end({ exitCode: 137, signalAsExitCode: true, caps: underCgroup({ limitHits: 3 }) })).flags?.[0], "memory-cap")
    // with kills counted, none counted means the cap did not kill it
    assert.isUndefined(triage(end({ exitCode: null, signal: "SIGKILL", caps: underCgroup({ oomKills: 0, limitHits: 3 }) })).flags)
  })

  it("calls forks the cgroup refused a crash at the process cap, with the log's error", () => {
    assert.deepStrictEqual(triage(end({ exitCode: 1, logTail: forkTraceback, caps: underCgroup({ forksRefused: 181 }) })), {
      status: "crash",
      reason: "train hit its cap of 20 processes and threads (exit code 1): BlockingIOError: [Errno 11] Resource temporarily unavailable",
      flags: ["pids-cap"]
    })
    // the same error with no refusal counted is not the cap's doing
    assert.isUndefined(triage(end({ exitCode: 1, logTail: forkTraceback, caps: underCgroup({ forksRefused: 0 }) })).flags)
  })

  it("takes a fork or thread failure in the log for the process cap under an rlimit", () => {
    const caps = { processes: { cap: 20, enforcedBy: "rlimit" as const } }
    const verdict = triage(end({ exitCode: 1, logTail: "RuntimeError: can't start new thread\n", caps }))
    assert.strictEqual(verdict.status, "crash")
    assert.deepStrictEqual(verdict.flags, ["pids-cap"])
  })

  it("calls a write past the per-file limit killed, flagged disk-full: SIGXFSZ, or Python's EFBIG", () => {
    const caps = { fileSizeGb: 0.01 }
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGXFSZ", caps })), {
      status: "killed",
      reason: "train tried to write a file larger than its run-directory cap of 0.01 GB (killed by SIGXFSZ)",
      flags: ["disk-full"]
    })
    const efbig = "Traceback (most recent call last):\n  File \"train.py\"\nOSError: [Errno 27] File too large\n"
    assert.deepStrictEqual(triage(end({ exitCode: 1, logTail: efbig, caps })).flags, ["disk-full"])
    // without the limit in force, the same text is an ordinary crash
    assert.strictEqual(triage(end({ exitCode: 1, logTail: efbig })).status, "crash")
  })

  it("names the address-space limit when a phase under prlimit ran out of memory", () => {
    const caps = { memory: { capGb: 0.2, enforcedBy: "address-space" as const } }
    assert.deepStrictEqual(triage(end({ exitCode: 1, logTail: "Traceback (most recent call last):\nMemoryError\n", caps })), {
      status: "oom",
      reason: "train ran out of memory (exit code 1) (host memory cap of 0.2 GB per process, as an address-space limit): MemoryError"
    })
  })

  it("lets a clean exit stay ok, whatever the caps counted", () => {
    assert.deepStrictEqual(triage(end({ caps: underCgroup({ oomKills: 1, forksRefused: 3 }) })), { status: "ok" })
  })
})
