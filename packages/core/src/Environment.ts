/**
 * What a result is bound to besides its commit and data: the software and hardware it
 * ran on (Python, torch and CUDA versions, the GPU and its driver). Probed once per
 * invocation with the research's own interpreter, recorded on every journal entry, and
 * compared by `verify`, which warns when it reruns a result somewhere else.
 */
import { Schema } from "effect"
import * as Command from "./Command.ts"

export const RunEnvironment = Schema.Struct({
  python: Schema.optional(Schema.String),
  torch: Schema.optional(Schema.String),
  /** The CUDA version torch was built with. */
  cuda: Schema.optional(Schema.String),
  gpu: Schema.optional(Schema.String),
  driver: Schema.optional(Schema.String)
})
export type RunEnvironment = typeof RunEnvironment.Type

// Prints what the interpreter knows, whether torch imports or not; never fails.
const script = `
import json, platform
out = {"python": platform.python_version()}
try:
    import torch
    out["torch"] = torch.__version__
    if torch.version.cuda:
        out["cuda"] = torch.version.cuda
    if torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
except Exception:
    pass
print(json.dumps(out))
`

const decode = Schema.decodeUnknownOption(Schema.fromJsonString(RunEnvironment))

const quiet = (command: string, args: ReadonlyArray<string>) => {
  const output = Command.runSync(command, args)
  return output !== undefined && Command.succeeded(output) ? output.stdout.trim() : undefined
}

/** The environment `python` runs in; fields it cannot tell are left out. */
export const probe = (python: ReadonlyArray<string>, nvidiaSmi = "nvidia-smi"): RunEnvironment => {
  const printed = quiet(python[0]!, [...python.slice(1), "-c", script])
  const decoded = printed === undefined ? undefined : decode(printed.split("\n").at(-1) ?? "")
  const fromPython: RunEnvironment = decoded?._tag === "Some" ? decoded.value : {}
  const smi = quiet(nvidiaSmi, ["--query-gpu=name,driver_version", "--format=csv,noheader"])?.split("\n")[0]
  const [gpu, driver] = smi === undefined || smi === "" ? [] : smi.split(",").map((part) => part.trim())
  return {
    ...fromPython,
    ...(fromPython.gpu === undefined && gpu ? { gpu } : {}),
    ...(driver ? { driver } : {})
  }
}

/** The fields two environments disagree on, as `name: a -> b` (a field missing on one side counts). */
export const differences = (recorded: RunEnvironment, now: RunEnvironment): Array<string> =>
  (["python", "torch", "cuda", "gpu", "driver"] as const).flatMap((field) =>
    recorded[field] === now[field] ? [] : [`${field}: ${recorded[field] ?? "none"} -> ${now[field] ?? "none"}`]
  )

/** One line for people: `python 3.11.2, torch 1.13.0, no GPU`. */
export const describe = (env: RunEnvironment): string =>
  [
    env.python === undefined ? undefined : `python ${env.python}`,
    env.torch === undefined ? undefined : `torch ${env.torch}`,
    env.cuda === undefined ? undefined : `CUDA ${env.cuda}`,
    env.gpu === undefined ? "no GPU" : `${env.gpu}${env.driver === undefined ? "" : ` (driver ${env.driver})`}`
  ].filter((part) => part !== undefined).join(", ")
