/**
 * prepare.py's throughput helpers, checked by hand-counted layers: the FLOPs of a training
 * sample from the shapes of its convolutions and linear layers, and MFU on a card in the
 * table (torch.cuda stood in for, so it runs without a GPU); an unknown card gets none.
 */
import { locatePython } from "@autoresearch/core"
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const example = path.resolve(import.meta.dirname, "..")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])

const script = `
import json, types, torch, torch.nn as nn
import prepare
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)      # 2 x (2*4*4 outputs) x 1*9 = 576
        self.group = nn.Conv2d(2, 4, 1, groups=2)     # 2 x (4*4*4) x 1*1 = 128
        self.fc = nn.Linear(64, 3)                    # 2 x 3 x 64 = 384
    def forward(self, x):
        return self.fc(self.group(self.conv(x)).reshape(x.shape[0], -1))
flops = prepare.flops_per_sample(Net(), (1, 1, 4, 4))
cpu = prepare.throughput(flops, samples=1000, seconds=2, hr_pixels=256, dev=torch.device("cpu"))
torch.cuda.get_device_name = lambda dev=None: "NVIDIA H100 80GB HBM3"
h100 = prepare.throughput(1e12, samples=100, seconds=1, hr_pixels=1, dev=torch.device("cuda", 0))
torch.cuda.get_device_name = lambda dev=None: "Some Future GPU"
unknown = prepare.throughput(1e12, samples=100, seconds=1, hr_pixels=1, dev=torch.device("cuda", 0))
scripted = prepare.flops_per_sample(torch.jit.trace(Net(), torch.zeros(1, 1, 4, 4)), (1, 1, 4, 4))
print(json.dumps({"flops": flops, "cpu": cpu, "h100": h100, "unknown": unknown, "scripted": scripted}))
`

describe("examples/lwir-sr throughput", () => {
  it.skipIf(!hasTorch)(hasTorch ? "counts FLOPs from layer shapes and gives MFU on a known card only" : "SKIPPED: no python with torch", () => {
    const output = execFileSync(python[0]!, [...python.slice(1), "-c", script], { cwd: example, encoding: "utf8" })
    const { flops, cpu, h100, unknown, scripted } = JSON.parse(output.trim().split("\n").at(-1)!)
    expect(flops).toBe(3 * (576 + 128 + 384))
    expect(cpu).toEqual({ samples_per_second: 500, pixels_per_second: 128_000, tflops: (500 * flops) / 1e12, flops_per_sample: flops })
    expect(h100.tflops).toBe(100)
    expect(h100.mfu).toBeCloseTo(100 / 989.4, 10)
    expect(unknown.tflops).toBe(100)
    expect(unknown).not.toHaveProperty("mfu")
    expect(scripted).toBeNull()
  })
})
