/**
 * Property-based tests of the trusted image readers (.npy, PNG, TIFF): files built with
 * any header fields, files a valid one becomes after random bytes are overwritten or cut,
 * and plain random bytes. Each decoder returns an image whose samples fill its shape, or
 * throws a DecodeError; nothing else is thrown, and no case takes more than a second (no
 * hang, no allocation the file does not justify). The seed is fixed (FUZZ_SEED overrides
 * it); fast-check prints the seed and path of a failure.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as zlib from "node:zlib"
import { DecodeError } from "../src/DecodeError.ts"
import type { Raw } from "../src/Image.ts"
import { decodeImage, ImageFileError } from "../src/ImageFile.ts"
import { decodeNpy, encodeNpy } from "../src/Npy.ts"
import { decodePng, encodePng } from "../src/Png.ts"
import { decodeTiff } from "../src/Tiff.ts"
import { npyOf, pngOf, tiffOf } from "./builders.ts"

const seed = Number(process.env.FUZZ_SEED ?? 1_203_571)

/** Decodes; the result fills its shape, or the error is a DecodeError; never over a second. */
const decodes = (decode: (bytes: Uint8Array) => Raw) => (bytes: Uint8Array) => {
  const started = performance.now()
  try {
    const raw = decode(bytes)
    assert.strictEqual(raw.data.length, raw.shape.reduce((a, b) => a * b, 1))
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error
    assert.isAbove(error.problem.length, 0)
  } finally {
    assert.isBelow(performance.now() - started, 1_000, "one decode took over a second")
  }
}

const problemOf = (thunk: () => unknown) => {
  try {
    thunk()
  } catch (error) {
    assert.instanceOf(error, DecodeError, String(error))
    return (error as DecodeError).problem
  }
  return assert.fail("expected a DecodeError")
}

/** `bytes` with up to four bytes overwritten and possibly cut short. */
const mutated = (valid: fc.Arbitrary<Uint8Array>) =>
  fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.option(fc.nat())).map(
    ([bytes, changes, cut]) => {
      const copy = Uint8Array.from(bytes)
      for (const [at, value] of changes) copy[at % copy.length] = value
      return cut === null ? copy : copy.subarray(0, cut % (copy.length + 1))
    }
  )

const dimension = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(2 ** 13, 2 ** 16, 2 ** 31 - 1, 2 ** 32 - 1, 70_000))
const payload = fc.uint8Array({ maxLength: 300 })

describe(".npy, fuzzed", () => {
  const header = fc.record({
    descr: fc.constantFrom("<f4", ">f8", "|u1", "<u2", "<i8", "|b1", "<c16", "f4", "", "<f4'", "'"),
    fortran: fc.constantFrom("True", "False", "true", "1"),
    shape: fc.oneof(
      fc.array(dimension, { maxLength: 4 }).map((dims) => `(${dims.join(", ")}${dims.length === 1 ? "," : ""})`),
      fc.constantFrom("()", "(1e3,)", "(-1, 2)", "(0x10,)", "(3, 4", "(99999999999999999999, 2)", `(${Array(100).fill(1).join(",")})`)
    )
  }).map(({ descr, fortran, shape }) => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`)
  const built = fc.tuple(header, payload).map(([text, data]) => npyOf(text, data))
  const valid = fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom("uint8", "uint16", "float32", "float64") as fc.Arbitrary<Raw["dtype"]>)
    .map(([h, w, dtype]) => {
      const data = dtype === "uint8" ? new Uint8Array(h * w) : dtype === "uint16" ? new Uint16Array(h * w) : dtype === "float32" ? new Float32Array(h * w) : new Float64Array(h * w)
      return encodeNpy({ dtype, shape: [h, w], data })
    })

  it("decodes or refuses with a DecodeError whatever the header says", () => {
    fc.assert(fc.property(built, decodes(decodeNpy)), { seed, numRuns: 1000 })
  })

  it("decodes or refuses with a DecodeError a valid file with bytes overwritten or cut", () => {
    fc.assert(fc.property(mutated(valid), decodes(decodeNpy)), { seed, numRuns: 1000 })
  })
})

describe("PNG, fuzzed", () => {
  const idat = fc.oneof(
    payload.map((bytes) => zlib.deflateSync(bytes)),
    fc.tuple(fc.nat(5_000_000), fc.nat(255)).map(([size, fill]) => zlib.deflateSync(Buffer.alloc(size, fill))),
    payload
  )
  const built = fc.record({
    width: dimension,
    height: dimension,
    depth: fc.constantFrom(1, 2, 4, 8, 16, 3),
    colour: fc.constantFrom(0, 2, 3, 4, 6, 5),
    interlace: fc.constantFrom(0, 0, 0, 1, 2),
    idat: fc.array(idat, { minLength: 0, maxLength: 2 })
  }).map(pngOf)
  const valid = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.boolean(), fc.uint8Array({ minLength: 64, maxLength: 64 }))
    .map(([width, height, wide, noise]) =>
      encodePng({
        width,
        height,
        channels: 1,
        data: wide ? Uint16Array.from({ length: width * height }, (_, i) => noise[i]! * 257) : noise.subarray(0, width * height)
      })
    )

  it("decodes or refuses with a DecodeError whatever the header and image data say", () => {
    fc.assert(fc.property(built, decodes(decodePng)), { seed, numRuns: 1200 })
  })

  it("decodes or refuses with a DecodeError a valid file with bytes overwritten or cut", () => {
    fc.assert(fc.property(mutated(valid), decodes(decodePng)), { seed, numRuns: 800 })
  })
})

describe("TIFF, fuzzed", () => {
  const strip = fc.oneof(
    payload,
    payload.map((bytes) => zlib.deflateSync(bytes)),
    fc.nat(5_000_000).map((size) => zlib.deflateSync(Buffer.alloc(size)))
  )
  const built = fc.record({
    width: dimension,
    height: dimension,
    bits: fc.constantFrom(8, 16, 32, 64, 1, 12),
    compression: fc.constantFrom(1, 5, 8, 32946, 32773, 7, 99),
    format: fc.constantFrom(1, 2, 3),
    predictor: fc.constantFrom(1, 2, 3),
    rowsPerStrip: fc.oneof(dimension, fc.constant(2 ** 32 - 1)),
    strip
  }).map(tiffOf)
  const valid = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.constantFrom(1, 8, 32773), fc.uint8Array({ minLength: 64, maxLength: 64 }))
    .map(([width, height, compression, noise]) => {
      const pixels = noise.subarray(0, width * height)
      // PackBits literal runs of at most 128 bytes.
      const packed = Buffer.concat(Array.from({ length: Math.ceil(pixels.length / 128) }, (_, k) => {
        const run = pixels.subarray(k * 128, (k + 1) * 128)
        return Buffer.concat([Buffer.from([run.length - 1]), run])
      }))
      return tiffOf({ width, height, compression, strip: compression === 1 ? pixels : compression === 8 ? zlib.deflateSync(pixels) : packed })
    })

  it("decodes or refuses with a DecodeError whatever the tags say", () => {
    fc.assert(fc.property(built, decodes(decodeTiff)), { seed, numRuns: 1200 })
  })

  it("decodes or refuses with a DecodeError a valid file with bytes overwritten or cut", () => {
    fc.assert(fc.property(mutated(valid), decodes(decodeTiff)), { seed, numRuns: 1200 })
  })

  it("refuses directories laid over each other without walking them all", () => {
    // 3000 directories 16 bytes apart, each of 65535 entries (the first marks it a thumbnail, to be skipped) and
    // pointing to the next: a walk of 200 million entries in a 1 MB file.
    const entries = 0xffff
    const bytes = Buffer.alloc(2 ** 20, 0xff)
    bytes.write("II", 0, "latin1")
    bytes.writeUInt16LE(42, 2)
    bytes.writeUInt32LE(8, 4)
    for (let k = 0; k < 3000; k++) {
      const at = 8 + 16 * k
      bytes.writeUInt16LE(entries, at)
      bytes.writeUInt16LE(254, at + 2) // NewSubfileType
      bytes.writeUInt16LE(4, at + 4) // LONG
      bytes.writeUInt32LE(1, at + 6)
      bytes.writeUInt32LE(1, at + 10) // a reduced-resolution copy
      bytes.writeUInt32LE(at + 16, at + 2 + entries * 12)
    }
    const started = performance.now()
    assert.match(problemOf(() => decodeTiff(bytes)), /directories hold more entries than the file has room for/)
    assert.isBelow(performance.now() - started, 1_000)
  })
})

describe("decodeImage, fuzzed", () => {
  it("refuses random bytes after any format's first bytes with an ImageFileError", () => {
    const prefix = fc.constantFrom([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [0x49, 0x49, 42, 0], [0x4d, 0x4d, 0, 42], [])
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 200 }), (head, tail) => {
        try {
          decodeImage(Uint8Array.from([...head, ...tail]), "fuzz.bin")
        } catch (error) {
          assert.instanceOf(error, ImageFileError, String(error))
        }
      }),
      { seed, numRuns: 2000 }
    )
  })
})
