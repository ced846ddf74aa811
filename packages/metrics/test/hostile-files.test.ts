/**
 * Files the trusted scorer reads that an experiment could have shaped: a small PNG or
 * TIFF that inflates far past its declared size, dimensions that would allocate more
 * than the documented pixel limit, an .npy whose shape promises more than the file
 * holds, and a FIFO where an image should be. Each is refused with a DecodeError (or an
 * ImageFileError naming the file), before any large allocation and without hanging.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { DecodeError } from "../src/DecodeError.ts"
import { maxPixels } from "../src/Limits.ts"
import { decodeNpy } from "../src/Npy.ts"
import { decodePng, encodePng } from "../src/Png.ts"
import { decodeTiff } from "../src/Tiff.ts"
import { npyOf, pngOf, tiffOf } from "./builders.ts"

const problemOf = (thunk: () => unknown): string => {
  try {
    thunk()
  } catch (error) {
    assert.instanceOf(error, DecodeError, String(error))
    return (error as DecodeError).problem
  }
  throw new Error("expected a DecodeError")
}

describe("a decompression bomb", () => {
  it("PNG: image data that inflates past what the declared size needs is refused without inflating it all", () => {
    // 100x100 8-bit gray needs 100 rows of 101 bytes; this IDAT inflates to 64 MB.
    const bomb = pngOf({ width: 100, height: 100, idat: zlib.deflateSync(Buffer.alloc(64 << 20), { level: 9 }) })
    assert.isBelow(bomb.length, 100_000)
    const started = performance.now()
    assert.match(problemOf(() => decodePng(bomb)), /image data inflates to more than the 10100 bytes 100x100 8-bit grayscale needs/)
    assert.isBelow(performance.now() - started, 2_000)
  })

  it("PNG: dimensions over the pixel limit are refused before anything is allocated", () => {
    const huge = pngOf({ width: 100_000, height: 100_000, idat: zlib.deflateSync(Buffer.alloc(10)) })
    assert.strictEqual(
      problemOf(() => decodePng(huge)),
      `100000x100000 is 10000000000 pixels, over the limit of ${maxPixels} (a larger image must be split, or saved as .npy)`
    )
  })

  it("PNG: its own output still reads", () => {
    const data = Uint16Array.from({ length: 6 * 5 }, (_, i) => i * 1000)
    assert.deepStrictEqual([...decodePng(encodePng({ width: 6, height: 5, channels: 1, data })).data], [...data])
  })

  it("TIFF: a Deflate strip that inflates past its strip size is refused", () => {
    const bomb = tiffOf({ width: 10, height: 10, compression: 8, strip: zlib.deflateSync(Buffer.alloc(64 << 20), { level: 9 }) })
    const started = performance.now()
    assert.match(problemOf(() => decodeTiff(bomb)), /strip 0 inflates to more than the 100 bytes it holds/)
    assert.isBelow(performance.now() - started, 2_000)
  })

  it("TIFF: dimensions over the pixel limit are refused before anything is allocated", () => {
    const huge = tiffOf({ width: 100_000, height: 100_000, compression: 1, strip: Buffer.alloc(10) })
    assert.strictEqual(
      problemOf(() => decodeTiff(huge)),
      `page 1 is 100000x100000: the file holds more than the limit of ${maxPixels} pixels (a larger stack must be split, or saved as .npy)`
    )
  })

  it("TIFF: a nonsensical size (zero, fractional) is refused", () => {
    assert.match(problemOf(() => decodeTiff(tiffOf({ width: 0, height: 4, compression: 1, strip: Buffer.alloc(4) }))), /page 1 has an invalid size 0x4/)
  })

  it("TIFF: a correct Deflate strip still reads", () => {
    const pixels = Buffer.from(Array.from({ length: 12 }, (_, i) => i * 20))
    const image = decodeTiff(tiffOf({ width: 4, height: 3, compression: 8, strip: zlib.deflateSync(pixels) }))
    assert.deepStrictEqual([image.shape, [...image.data]], [[3, 4], [...pixels]])
  })
})

describe(".npy whose shape promises more than the file holds", () => {
  it("is refused from the header, before the data is copied", () => {
    const lying = npyOf("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", new Uint8Array(16))
    assert.strictEqual(problemOf(() => decodeNpy(lying)), "truncated: shape (100000, 100000) of float32 needs 40000000000 bytes of data, found 16")
  })

  it("a shape written other than in decimal digits is malformed", () => {
    const hex = npyOf("{'descr': '|u1', 'fortran_order': False, 'shape': (0x10,), }", new Uint8Array(16))
    assert.strictEqual(problemOf(() => decodeNpy(hex)), "malformed shape (0x10,)")
  })
})

describe("a FIFO where an image should be", () => {
  it("readImageSync refuses it instead of waiting for a writer", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostile-fifo-"))
    try {
      const fifo = path.join(dir, "hr.npy")
      execFileSync("mkfifo", [fifo])
      const module = path.resolve(import.meta.dirname, "../src/ImageFile.ts")
      const script = `import { readImageSync } from ${JSON.stringify(module)}
try { readImageSync(${JSON.stringify(fifo)}) } catch (error) { process.stdout.write(error.message) }`
      // The package imports @autoresearch/core by name: run from the repository, where the workspace links it.
      const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 10_000, cwd: path.dirname(module) })
      assert.isNull(child.signal, `the read did not finish in 10 s (killed by ${child.signal})`)
      assert.strictEqual(child.stdout, `${fifo}: not a regular file (a FIFO)`, child.stderr)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
