import { assert, describe, it } from "@effect/vitest"
import { isCredential, phaseEnv, runnerVariables, type RunnerVariablesInput } from "../src/PhaseEnv.ts"

const parent = {
  PATH: "/usr/bin:/bin",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
  CUDA_HOME: "/usr/local/cuda",
  OMP_NUM_THREADS: "4",
  HOME: "/home/researcher",
  USER: "researcher",
  SSH_AUTH_SOCK: "/tmp/ssh-agent",
  ANTHROPIC_API_KEY: "sk-ant-api03-abcdefghijklmnop",
  AWS_ACCESS_KEY_ID: "AKIAABCDEFGHIJKLMNOP",
  AUTORESEARCH_SECRET_SAUCE: "x",
  AUTORESEARCH_SEED: "99",
  UNDEFINED: undefined
}

describe("phaseEnv", () => {
  it("passes the allowlist and nothing else of the parent's", () => {
    const { env, refused } = phaseEnv({ parent, runner: {}, phase: {} })
    assert.deepStrictEqual(env, {
      PATH: "/usr/bin:/bin",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      CUDA_HOME: "/usr/local/cuda",
      OMP_NUM_THREADS: "4"
    })
    assert.deepStrictEqual(refused, [])
  })

  it("lets the runner's variables replace the parent's, and the phase's the runner's", () => {
    const { env } = phaseEnv({
      parent,
      runner: { HOME: "/run/0/home", CUDA_VISIBLE_DEVICES: "1", AUTORESEARCH_SEED: "7" },
      phase: { AUTORESEARCH_SEED: "8", AUTORESEARCH_DATA_DIR: "/cache/train" }
    })
    assert.strictEqual(env.HOME, "/run/0/home")
    assert.strictEqual(env.CUDA_VISIBLE_DEVICES, "1")
    assert.strictEqual(env.AUTORESEARCH_SEED, "8")
    assert.strictEqual(env.AUTORESEARCH_DATA_DIR, "/cache/train")
    assert.notProperty(env, "AUTORESEARCH_SECRET_SAUCE")
  })

  it("passes names given on purpose, except credentials, and says which it refused", () => {
    const { env, refused } = phaseEnv({
      parent: { ...parent, WANDB_MODE: "offline", MY_SETTING: "ghp_abcdefghijklmnopqrstuvwxyz" },
      passEnv: ["USER", "ANTHROPIC_API_KEY", "AWS_ACCESS_KEY_ID", "MY_SETTING", "NOT_SET"],
      runner: {},
      phase: {}
    })
    assert.strictEqual(env.USER, "researcher")
    for (const name of ["ANTHROPIC_API_KEY", "AWS_ACCESS_KEY_ID", "MY_SETTING", "WANDB_MODE"]) assert.notProperty(env, name)
    assert.deepStrictEqual(refused, ["ANTHROPIC_API_KEY", "AWS_ACCESS_KEY_ID", "MY_SETTING"])
  })

  it("refuses an allowlisted name that holds a credential", () => {
    const { env } = phaseEnv({ parent: { CUDA_SOMETHING: "sk-proj-abcdefghijklmnopqrst", CUDA_AUTH_TOKEN: "x" }, runner: {}, phase: {} })
    assert.deepStrictEqual(env, {})
  })
})

describe("isCredential", () => {
  it("recognises credentials by name", () => {
    for (const name of ["OPENAI_API_KEY", "GH_TOKEN", "GITHUB_TOKEN", "HF_TOKEN", "DB_PASSWORD", "AWS_SESSION_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS", "KUBECONFIG", "STRIPE_SECRET_KEY", "SENTRY_DSN", "MY_APIKEY"]) {
      assert.isTrue(isCredential(name, "x"), name)
    }
  })

  it("recognises credentials by value, whatever the name", () => {
    for (const value of [
      "sk-ant-api03-abcdefghijkl",
      "ghp_abcdefghijklmnopqrstuvwxyz0123",
      "github_pat_11ABCDEFG0123456789",
      "xoxb-123-456",
      "AKIAIOSFODNN7EXAMPLE",
      "hf_abcdefghijklmnopqrs",
      "postgres://user:hunter2@db.example.com/prod",
      "-----BEGIN OPENSSH PRIVATE KEY-----"
    ]) {
      assert.isTrue(isCredential("INNOCENT", value), value)
    }
  })

  it("lets ordinary variables through", () => {
    for (const [name, value] of [["PATH", "/usr/bin"], ["CUDA_VISIBLE_DEVICES", "0,1"], ["LANG", "en_GB.UTF-8"], ["AUTORESEARCH_RUN_DIR", "/x/runs/3"], ["AUTORESEARCH_VRAM_BUDGET_GB", "16"], ["HTTP_PORT", "8080"]]) {
      assert.isFalse(isCredential(name!, value!), name)
    }
  })
})

describe("runnerVariables", () => {
  const input: RunnerVariablesInput = {
    runDir: "/state/runs/3",
    phase: "train",
    seed: 42,
    timeoutSeconds: 330,
    home: "/tmp/home",
    tmp: "/tmp",
    sandboxed: true,
    gpus: [],
    hideGpus: false,
    vramBudgetGb: undefined,
    marker: ["AUTORESEARCH_RUN_ID", "3-train-abc"]
  }

  it("gives a private home and tmp, no user site-packages, the seeds, the run directory and the metrics file", () => {
    assert.deepStrictEqual(runnerVariables(input), {
      HOME: "/tmp/home",
      TMPDIR: "/tmp",
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      PYTHONNOUSERSITE: "1",
      PYTHONHASHSEED: "42",
      AUTORESEARCH_RUN_DIR: "/state/runs/3",
      AUTORESEARCH_PHASE: "train",
      AUTORESEARCH_SEED: "42",
      AUTORESEARCH_BUDGET_SECONDS: "330",
      AUTORESEARCH_METRICS_FILE: "/state/runs/3/metrics.json",
      AUTORESEARCH_SANDBOX: "bubblewrap",
      AUTORESEARCH_RUN_ID: "3-train-abc",
      AUTORESEARCH_DEVICE: "cpu"
    })
  })

  it("turns a GPU lease into CUDA_VISIBLE_DEVICES in nvidia-smi's order, with the VRAM budget", () => {
    const variables = runnerVariables({ ...input, gpus: [2, 5], vramBudgetGb: 16 })
    assert.deepInclude(variables, {
      CUDA_VISIBLE_DEVICES: "2,5",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      AUTORESEARCH_DEVICE: "cuda",
      AUTORESEARCH_VRAM_GB: "16"
    })
  })

  it("hides every GPU when told to use none", () => {
    assert.strictEqual(runnerVariables({ ...input, hideGpus: true }).CUDA_VISIBLE_DEVICES, "")
    assert.notProperty(runnerVariables(input), "CUDA_VISIBLE_DEVICES")
  })

  it("sets a thread count for torch, OpenMP and MKL only when given one", () => {
    assert.deepInclude(runnerVariables({ ...input, threads: 2 }), { AUTORESEARCH_THREADS: "2", OMP_NUM_THREADS: "2", MKL_NUM_THREADS: "2" })
    for (const name of ["AUTORESEARCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"]) assert.notProperty(runnerVariables(input), name)
  })
})
