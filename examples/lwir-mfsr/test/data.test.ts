/**
 * The phase-3 data step on real folders: bad input (too few frames, mixed sizes, mixed
 * bit depths, a file that is not an image, a single sequence) fails with a message naming
 * the file and writes nothing; real frames split by file into training, validation and
 * test; the real sequences in ../shared/data/lwir-bursts build validation and test bursts
 * without targets, a sequence in one split only. Runs prepare.py itself; needs python with
 * torch, numpy and PIL, and skips, saying so, without one.
 */
import { locatePython } from "@autoresearch/core"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const example = path.resolve(import.meta.dirname, "..")
const bursts = path.resolve(import.meta.dirname, "../../../../shared/data/lwir-bursts")
const { command: python, imports: hasTorch } = locatePython(["torch", "numpy", "PIL"])
const base = fs.mkdtempSync(path.join(os.tmpdir(), "lwir-mfsr-data-"))
afterAll(() => fs.rmSync(base, { recursive: true, force: true }))

/** Writes grayscale PNGs with PIL: `frames` images of `shape`, 8- or 16-bit. */
const writeFrames = (dir: string, frames: Array<{ readonly shape: [number, number]; readonly bits: 8 | 16 }>) => {
  fs.mkdirSync(dir, { recursive: true })
  const script = `
import json, sys, numpy as np
from PIL import Image
for i, f in enumerate(json.loads(sys.argv[2])):
    h, w = f["shape"]
    rng = np.random.default_rng(i)
    if f["bits"] == 8:
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(f"{sys.argv[1]}/{i:03d}.png")
    else:
        Image.fromarray(rng.integers(6000, 7000, (h, w)).astype(np.uint16)).save(f"{sys.argv[1]}/{i:03d}.png")
`
  const result = spawnSync(python[0]!, [...python.slice(1), "-c", script, dir, JSON.stringify(frames)], { encoding: "utf8" })
  if (result.status !== 0) throw new Error(result.stderr)
}

const prepare = (args: Array<string>) => {
  const cache = fs.mkdtempSync(path.join(base, "cache-"))
  const result = spawnSync(python[0]!, [...python.slice(1), path.join(example, "prepare.py"), "--smoke", ...args], {
    encoding: "utf8",
    env: { ...process.env, AUTORESEARCH_CACHE_DIR: cache, AUTORESEARCH_SEED: "0", AUTORESEARCH_THREADS: "1" }
  })
  return { cache, status: result.status, output: `${result.stdout}${result.stderr}`, written: fs.readdirSync(cache, { recursive: true }) }
}

const frames = (count: number, shape: [number, number] = [60, 80], bits: 8 | 16 = 8) =>
  Array.from({ length: count }, () => ({ shape, bits }))

const skipped = `SKIPPED: no python with torch, numpy and PIL (tried ${python.join(" ")}); Debian: apt-get install python3-torch python3-numpy python3-pil`

describe("examples/lwir-mfsr prepare.py on real folders", () => {
  it.skipIf(!hasTorch)(hasTorch ? "refuses bad input with the file and the fix, and writes nothing" : skipped, () => {
    const short = path.join(base, "short")
    writeFrames(path.join(short, "a"), frames(3))
    const mixedSizes = path.join(base, "sizes")
    writeFrames(path.join(mixedSizes, "a"), [...frames(3), ...frames(2, [64, 80])])
    const mixedBits = path.join(base, "bits")
    writeFrames(path.join(mixedBits, "a"), [...frames(3), ...frames(2, [60, 80], 16)])
    const stray = path.join(base, "stray")
    writeFrames(path.join(stray, "a"), frames(5))
    fs.writeFileSync(path.join(stray, "a", "notes.txt"), "not a frame")
    const fake = path.join(base, "fake")
    writeFrames(path.join(fake, "a"), frames(4))
    fs.writeFileSync(path.join(fake, "a", "004.png"), "not a png either")
    const singles = path.join(base, "singles")
    writeFrames(singles, [...frames(4, [200, 200]), ...frames(1, [200, 200], 16)])
    const lone = path.join(base, "lone")
    writeFrames(path.join(lone, "a"), frames(5))

    const cases: Array<[Array<string>, RegExp]> = [
      [["--sequences", short], /short\/a: 3 frames, fewer than the 4 a burst needs/],
      [["--sequences", mixedSizes], /sizes\/a: frames of different sizes \(.*000\.png is \(60, 80\), .*003\.png is \(64, 80\)\)/],
      [["--sequences", mixedBits], /bits\/a: 8-bit and 16-bit frames mixed \(.*000\.png is 8-bit, .*003\.png is 16-bit\)/],
      [["--sequences", stray], /stray\/a\/notes\.txt: not an image \(PNG or TIFF\); move it out/],
      [["--sequences", fake], /fake\/a\/004\.png: not a readable image/],
      [["--data", singles], /singles: 8-bit and 16-bit frames mixed/],
      [["--sequences", lone], /lone: 1 sequence folder; validation and test need one each .*add a second/],
      [["--sequences", path.join(base, "absent")], /absent: not a folder/]
    ]
    for (const [args, message] of cases) {
      const result = prepare(args)
      expect(result.status, result.output).not.toBe(0)
      expect(result.output).toMatch(/bad input: /)
      expect(result.output).toMatch(message)
      expect(result.output).not.toMatch(/Traceback/)
      expect(result.written).toEqual([])
    }
  }, 300_000)

  it.skipIf(!hasTorch)(hasTorch ? "splits real frames by file into training, validation and test" : skipped, () => {
    const five = path.join(base, "five")
    writeFrames(five, frames(5, [200, 200]))
    const result = prepare(["--data", five, "--frames", "2"])
    expect(result.status, result.output).toBe(0)
    expect(result.output).toMatch(/from 1 scenes; 48 validation bursts: .* 2 held-out scenes; 48 test bursts: .* 2 other held-out scenes/)
    for (const name of ["inputs/bursts.npy", "inputs/lr.npy", "inputs/meta.json", "hidden/hr.npy", "hidden/shift_add.npy"]) {
      expect(result.written).toContain(path.join("test", ...name.split("/")))
    }
    const splits = JSON.parse(fs.readFileSync(path.join(result.cache, "hidden", "splits.json"), "utf8"))
    expect([splits.train.length, splits.validation.length, splits.test.length]).toEqual([1, 2, 2])
    expect([...splits.train, ...splits.validation, ...splits.test].sort()).toEqual(["000.png", "001.png", "002.png", "003.png", "004.png"])
    expect(JSON.parse(fs.readFileSync(path.join(result.cache, "test", "inputs", "meta.json"), "utf8")).test).toEqual([48, 2, 24, 24])
  }, 300_000)

  const haveBursts = fs.existsSync(bursts)
  const title = !hasTorch ? skipped : haveBursts
    ? "builds real validation and test bursts from ../shared/data/lwir-bursts, without targets, a sequence in one split"
    : `SKIPPED: ${bursts} is absent (the real LWIR sequences)`
  it.skipIf(!hasTorch || !haveBursts)(title, () => {
    const result = prepare(["--sequences", bursts])
    expect(result.status, result.output).toBe(0)
    expect(result.output).toMatch(/32 validation bursts: real sequences tree: no ground truth.*; 60 test bursts: real sequences nato-camp/)
    for (const part of ["inputs", path.join("test", "inputs")]) {
      expect(result.written).toContain(path.join(part, "bursts.npy"))
      expect(result.written).toContain(path.join(part, "lr.npy"))
    }
    expect(result.written).not.toContain(path.join("hidden", "hr.npy"))
    expect(result.written).not.toContain(path.join("test", "hidden", "hr.npy"))
    const splits = JSON.parse(fs.readFileSync(path.join(result.cache, "hidden", "splits.json"), "utf8"))
    expect([splits.validation, splits.test]).toEqual([["tree"], ["nato-camp"]])
    const meta = JSON.parse(fs.readFileSync(path.join(result.cache, "test", "inputs", "meta.json"), "utf8"))
    expect([meta.val, meta.test]).toEqual([[32, 4, 24, 24], [60, 4, 24, 24]])
  }, 300_000)
})
