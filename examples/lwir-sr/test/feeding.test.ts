/**
 * train.py keeps the device busy: no read-back of the loss in every step, no batch built in
 * numpy on the host (see feeding.ts). Needs a python with torch, numpy and PIL.
 */
import { locatePython } from "@autoresearch/core"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { measureFeeding } from "./feeding.ts"

const example = path.resolve(import.meta.dirname, "..")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])

describe("examples/lwir-sr feeding", () => {
  it.skipIf(!hasTorch)(hasTorch ? "reads the loss back only every LOG_EVERY steps and builds no batch on the host" : "SKIPPED: no python with torch", () => {
    const feeding = measureFeeding(python, example, 4)
    console.log(`lwir-sr: ${feeding.steps} steps, ${feeding.reads} reads of a tensor by train.py, ${feeding.from_numpy} torch.from_numpy calls`)
    expect(feeding.steps).toBeGreaterThan(20)
    expect(feeding.log).toMatch(/training pairs \(0\.\d\d GB, on the device\)/)
    // LOG_EVERY is 200: a run this short reads the loss back once, at the end.
    expect(feeding.reads).toBeLessThanOrEqual(2 + Math.floor(feeding.steps / 200))
    expect(feeding.from_numpy).toBeLessThanOrEqual(3)
  }, 120_000)
})
