import { assert, describe, it } from "@effect/vitest"
import { nonFiniteLoss, signalOfExitCode, tracebackLine, triage, type PhaseEnd } from "../src/Triage.ts"

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

const traceback = [
  "step 10 loss 0.5",
  "Traceback (most recent call last):",
  "  File \"train.py\", line 3, in <module>",
  "    model(x)",
  "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 4x4)",
  ""
].join("\n")

describe("triage", () => {
  it("says ok for a clean exit with what was expected", () => {
    assert.deepStrictEqual(triage(end({ artifacts: { missing: [], empty: [] }, reported: { loss: 0.1 } })), { status: "ok" })
  })

  it("puts an interruption and a timeout before anything else", () => {
    assert.deepStrictEqual(triage(end({ interrupted: true, exitCode: null, signal: "SIGTERM" })), {
      status: "killed",
      reason: "train was stopped because the run was interrupted"
    })
    assert.deepStrictEqual(triage(end({ timedOut: true, exitCode: null, signal: "SIGKILL" })), {
      status: "timeout",
      reason: "train exceeded its 330 s limit and was killed"
    })
  })

  it("names the exit code and the traceback's last line of a crash", () => {
    assert.deepStrictEqual(triage(end({ exitCode: 1, logTail: traceback })), {
      status: "crash",
      reason: "train failed (exit code 1): RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 4x4)"
    })
    assert.deepStrictEqual(triage(end({ exitCode: 2 })), { status: "crash", reason: "train failed (exit code 2)" })
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGSEGV" })), { status: "crash", reason: "train failed (killed by SIGSEGV)" })
  })

  it("reads 128 + n as signal n where the sandbox reports signals so", () => {
    assert.deepStrictEqual(triage(end({ exitCode: 139, signalAsExitCode: true })), {
      status: "crash",
      reason: "train failed (killed by SIGSEGV, exit code 139)"
    })
    assert.deepStrictEqual(triage(end({ exitCode: 139 })), { status: "crash", reason: "train failed (exit code 139)" })
  })

  it("calls out-of-memory texts, exit 137 and SIGKILL oom", () => {
    const cuda = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)"
    assert.deepStrictEqual(triage(end({ exitCode: 1, logTail: `Traceback (most recent call last):\n  File "x"\n${cuda}\n` })), {
      status: "oom",
      reason: `train ran out of memory (exit code 1): ${cuda}`
    })
    assert.strictEqual(triage(end({ exitCode: 1, logTail: "MemoryError\n" })).status, "oom")
    assert.deepStrictEqual(triage(end({ exitCode: 137 })), {
      status: "oom",
      reason: "train was killed (exit code 137), most likely by the kernel's out-of-memory killer"
    })
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGKILL" })), {
      status: "oom",
      reason: "train was killed (killed by SIGKILL), most likely by the kernel's out-of-memory killer"
    })
  })

  it("does not take an old out-of-memory warning for the cause of a later crash", () => {
    const log = ["warning: CUDA out of memory, retrying with a smaller batch", ...Array(30).fill("step"), traceback].join("\n")
    assert.strictEqual(triage(end({ exitCode: 1, logTail: log })).status, "crash")
  })

  it("calls a stop signal from outside killed", () => {
    assert.deepStrictEqual(triage(end({ exitCode: null, signal: "SIGTERM" })), {
      status: "killed",
      reason: "train was stopped from outside (killed by SIGTERM)"
    })
  })

  it("fails a clean exit that reported a non-finite loss or left an artifact missing or empty", () => {
    assert.deepStrictEqual(triage(end({ reported: { loss: Number.NaN } })), {
      status: "crash",
      reason: "train reported a non-finite loss (loss: NaN)"
    })
    assert.deepStrictEqual(triage(end({ reported: { val_psnr: Number.NaN } })), { status: "ok" })
    assert.deepStrictEqual(triage(end({ phase: "predict", artifacts: { missing: ["predictions.npy"], empty: [] } })), {
      status: "crash",
      reason: "predict exited 0 but did not write predictions.npy"
    })
    assert.deepStrictEqual(triage(end({ artifacts: { missing: [], empty: ["model.pt"] } })), {
      status: "crash",
      reason: "train exited 0 but wrote an empty model.pt"
    })
  })

  it("fails a clean exit that left an artifact as a symbolic link or a FIFO, which no scorer may open", () => {
    const artifacts = { missing: [], empty: [], refused: ["predictions.npy as a symbolic link"] }
    assert.deepStrictEqual(triage(end({ phase: "predict", artifacts })), {
      status: "crash",
      reason: "predict exited 0 but left predictions.npy as a symbolic link, not a regular file"
    })
  })

  it("keeps the reason to one line", () => {
    const verdict = triage(end({ exitCode: 1, logTail: `Traceback (most recent call last):\nValueError: ${"x".repeat(500)}\n` }))
    assert.notInclude(verdict.reason!, "\n")
    assert.isAtMost(verdict.reason!.length, 200)
  })
})

describe("the helpers", () => {
  it("finds a traceback's last line, or none", () => {
    assert.strictEqual(tracebackLine(traceback), "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x3 and 4x4)")
    assert.isUndefined(tracebackLine("all fine\n"))
  })

  it("maps exit codes past 128 to signals", () => {
    assert.strictEqual(signalOfExitCode(137), "SIGKILL")
    assert.strictEqual(signalOfExitCode(143), "SIGTERM")
    assert.isUndefined(signalOfExitCode(1))
    assert.isUndefined(signalOfExitCode(255))
  })

  it("finds non-finite losses only", () => {
    assert.deepStrictEqual(nonFiniteLoss({ train_loss: Number.POSITIVE_INFINITY }), ["train_loss", Number.POSITIVE_INFINITY])
    assert.isUndefined(nonFiniteLoss({ loss: 0.2, psnr: Number.NaN }))
  })
})

describe("a command the sandbox does not show", () => {
  it("says so, names where commands can live, and is a crash of the phase", () => {
    const verdict = triage(end({ exitCode: 1, signalAsExitCode: true, logTail: "bwrap: execvp /tmp/tools/wrap.sh: No such file or directory\n" }))
    assert.strictEqual(verdict.status, "crash")
    assert.strictEqual(
      verdict.reason,
      "train could not start /tmp/tools/wrap.sh in the sandbox (bwrap: execvp: No such file or directory). A sandboxed phase " +
        "sees the root file system read-only, with /tmp a fresh empty tmpfs and your home (and /root) emptied except its " +
        "working directory, its readable paths and the interpreter's installation; keep the command in the research " +
        "directory or a system folder, or add its folder to LocalRunner's `readable` option"
    )
    // the same line printed by an unsandboxed phase is the phase's own output
    assert.strictEqual(triage(end({ exitCode: 1, logTail: "bwrap: execvp /tmp/x: No such file or directory\n" })).reason, "train failed (exit code 1)")
  })
})
