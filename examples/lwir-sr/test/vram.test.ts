/**
 * The VRAM cap without a GPU: prepare.py's helpers run against a stand-in for torch.cuda
 * that records the calls and, like torch, accepts only an integer device index. A 16 GB
 * budget on an 80 GB card must set a memory fraction of 0.2 on device 0.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const example = path.resolve(import.meta.dirname, "..")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])

const script = `
import json, os, types, torch
calls = []
def index_only(device):
    assert isinstance(device, int), f"torch needs a device index, got {device!r}"
    return device
torch.cuda.is_available = lambda: True
torch.cuda.current_device = lambda: 0
torch.cuda.get_device_properties = lambda device: types.SimpleNamespace(total_memory=80e9 if index_only(device) == 0 else 0)
torch.cuda.set_per_process_memory_fraction = lambda fraction, device: calls.append((fraction, index_only(device)))
import prepare
results = {}
for wanted in ["", "cuda", "cuda:0"]:
    os.environ["AUTORESEARCH_DEVICE"] = wanted
    dev = prepare.device()
    results[wanted or "default"] = [str(dev), prepare.apply_vram_budget(dev)]
os.environ["AUTORESEARCH_VRAM_GB"] = "100"
prepare.apply_vram_budget(prepare.device())
print(json.dumps({"results": results, "calls": calls}))
`

describe("examples/lwir-sr VRAM budget", () => {
  it.skipIf(!hasTorch)(hasTorch ? "caps a 16 GB budget to 0.2 of an 80 GB card, on an indexed device" : "SKIPPED: no python with torch", () => {
    const output = execFileSync(python[0]!, [...python.slice(1), "-c", script], {
      cwd: example,
      encoding: "utf8",
      env: { ...process.env, AUTORESEARCH_VRAM_GB: "16" }
    })
    const { results, calls } = JSON.parse(output.trim().split("\n").at(-1)!)
    expect(results).toEqual({ default: ["cuda:0", 16], cuda: ["cuda:0", 16], "cuda:0": ["cuda:0", 16] })
    expect(calls).toEqual([[0.2, 0], [0.2, 0], [0.2, 0], [1, 0]])
  })
})
