/**
 * The environment a phase sees, as a pure function: an allowlist of the parent's
 * variables (PATH, locale, CUDA, thread counts), the names a user passes on purpose, the
 * runner's own (private HOME and TMPDIR, seeds, `AUTORESEARCH_*`), and the phase's. API
 * keys, tokens and cloud credentials never pass, whatever their names: a variable is
 * refused if its name or its value looks like one.
 */

/** Parent variables a phase gets when they are set. */
const allowedNames = new Set([
  "PATH",
  "LANG",
  "LANGUAGE",
  "TZ",
  "LD_LIBRARY_PATH",
  "OMP_NUM_THREADS",
  "MKL_NUM_THREADS",
  "OPENBLAS_NUM_THREADS",
  "CUBLAS_WORKSPACE_CONFIG",
  "PYTORCH_CUDA_ALLOC_CONF",
  "VIRTUAL_ENV",
  "CONDA_PREFIX",
  "CONDA_DEFAULT_ENV"
])
const allowedPrefixes = ["LC_", "CUDA_", "NVIDIA_"]

const secretName = new RegExp(
  [
    // a word of the name says it is secret: OPENAI_API_KEY, GH_TOKEN, DB_PASSWORD, AWS_SESSION_TOKEN
    "(^|_)(API_?KEY|KEY|KEYS|TOKEN|TOKENS|SECRET|SECRETS|PASSWORD|PASSWD|PASS|PWD_HASH|CREDENTIAL|CREDENTIALS|AUTH|COOKIE|PRIVATE|SIGNATURE|DSN)(_|$)",
    // or it belongs to a provider whose variables are credentials or point at them
    "^(AWS|AZURE|ARM|GOOGLE|GCP|GCLOUD|CLOUDSDK|ANTHROPIC|OPENAI|HF|HUGGING_?FACE|GITHUB|GH|GITLAB|WANDB|NPM|PYPI|TWINE|DOCKER|KUBE|SSH|GPG|GNUPG|VAULT|DATABRICKS|MLFLOW|COMET|NEPTUNE|REPLICATE|COHERE|MISTRAL|GROQ|TOGETHER|DEEPSEEK|GEMINI|SLACK|DISCORD|STRIPE|TWILIO|SENTRY|DIGITALOCEAN|DO|LINODE|HEROKU|NETLIFY|VERCEL|CLOUDFLARE|CF|S3|MINIO|B2|R2)_",
    "^(KUBECONFIG|NETRC|PGPASSFILE|BOTO_CONFIG)$"
  ].join("|"),
  "i"
)

const secretValue = new RegExp(
  [
    "^(sk|rk|pk)[-_][A-Za-z0-9_-]{8,}", // OpenAI, Anthropic (sk-ant-), Stripe
    "^(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{10,}",
    "^glpat-",
    "^xox[abprs]-",
    "^(AKIA|ASIA)[A-Z0-9]{12,}",
    "^AIza[0-9A-Za-z_-]{20,}",
    "^ya29\\.",
    "^hf_[A-Za-z0-9]{10,}",
    "^eyJ[A-Za-z0-9_-]{10,}\\.eyJ", // a JWT
    "-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "^[a-z][a-z0-9+.-]*://[^/\\s:@]+:[^/\\s@]+@" // a URL with a password in it
  ].join("|")
)

/** True when a variable's name or value looks like a credential. */
export const isCredential = (name: string, value: string): boolean =>
  secretName.test(name) || secretValue.test(value.trim())

const allowed = (name: string) => allowedNames.has(name) || allowedPrefixes.some((prefix) => name.startsWith(prefix))

export interface PhaseEnvInput {
  readonly parent: Readonly<Record<string, string | undefined>>
  /** Further parent variables the user passes on purpose (credentials are refused anyway). */
  readonly passEnv?: ReadonlyArray<string>
  /** The runner's own variables: HOME, TMPDIR, devices, `AUTORESEARCH_*`. */
  readonly runner: Readonly<Record<string, string>>
  /** The phase's `AUTORESEARCH_*` variables, from the loop. */
  readonly phase: Readonly<Record<string, string>>
}

export interface PhaseEnv {
  readonly env: Readonly<Record<string, string>>
  /** Variables asked for (allowlisted, passed on purpose, or set by the phase) that were refused as credentials. */
  readonly refused: ReadonlyArray<string>
}

/** Builds the phase's environment; later sources win: parent allowlist, runner, phase. */
export const phaseEnv = (input: PhaseEnvInput): PhaseEnv => {
  const env: Record<string, string> = {}
  const refused: Array<string> = []
  const passEnv = new Set(input.passEnv ?? [])
  const take = (name: string, value: string, explicit: boolean) => {
    if (isCredential(name, value)) {
      if (explicit) refused.push(name)
      return
    }
    env[name] = value
  }
  for (const [name, value] of Object.entries(input.parent)) {
    if (value === undefined || name.startsWith("AUTORESEARCH_")) continue
    if (allowed(name) || passEnv.has(name)) take(name, value, passEnv.has(name))
  }
  for (const [name, value] of Object.entries(input.runner)) take(name, value, true)
  for (const [name, value] of Object.entries(input.phase)) take(name, value, true)
  return { env, refused }
}

export interface RunnerVariablesInput {
  readonly runDir: string
  readonly phase: string
  readonly seed: number
  readonly timeoutSeconds: number
  /** The phase's home and temporary directories, as the phase sees them: fresh, and written by no earlier phase. */
  readonly home: string
  readonly tmp: string
  readonly sandboxed: boolean
  /** nvidia-smi indices of the GPUs the phase leased; empty for the CPU. */
  readonly gpus: ReadonlyArray<number>
  /** Hide every GPU from a phase that leased none (the runner was told to use none). */
  readonly hideGpus: boolean
  readonly vramBudgetGb: number | undefined
  /** CPU threads the phase may use (set for torch, OpenMP and MKL); undefined leaves them alone. */
  readonly threads?: number
  /** The variable and value that mark the phase's processes. */
  readonly marker: readonly [string, string]
}

/** The runner's own variables for a phase: private HOME and TMPDIR, seeds, devices, `AUTORESEARCH_*`. */
export const runnerVariables = (input: RunnerVariablesInput): Record<string, string> => ({
  HOME: input.home,
  TMPDIR: input.tmp,
  PYTHONUNBUFFERED: "1",
  PYTHONDONTWRITEBYTECODE: "1",
  // No ~/.local site-packages, so no usercustomize.py or .pth file runs at start-up.
  PYTHONNOUSERSITE: "1",
  PYTHONHASHSEED: String(input.seed),
  AUTORESEARCH_RUN_DIR: input.runDir,
  AUTORESEARCH_PHASE: input.phase,
  AUTORESEARCH_SEED: String(input.seed),
  // The loop passes the training budget itself; without it, the phase's limit is the best bound it has.
  AUTORESEARCH_BUDGET_SECONDS: String(input.timeoutSeconds),
  // Shared by a run's phases (prepare.py's helper adds to it), so predict's result still carries train's peak.
  AUTORESEARCH_METRICS_FILE: `${input.runDir}/metrics.json`,
  AUTORESEARCH_SANDBOX: input.sandboxed ? "bubblewrap" : "none",
  [input.marker[0]]: input.marker[1],
  AUTORESEARCH_DEVICE: input.gpus.length > 0 ? "cuda" : "cpu",
  ...(input.gpus.length > 0
    ? { CUDA_VISIBLE_DEVICES: input.gpus.join(","), CUDA_DEVICE_ORDER: "PCI_BUS_ID" }
    : input.hideGpus
    ? { CUDA_VISIBLE_DEVICES: "" }
    : {}),
  ...(input.vramBudgetGb === undefined ? {} : { AUTORESEARCH_VRAM_GB: String(input.vramBudgetGb) }),
  ...(input.threads === undefined
    ? {}
    : { AUTORESEARCH_THREADS: String(input.threads), OMP_NUM_THREADS: String(input.threads), MKL_NUM_THREADS: String(input.threads) })
})
