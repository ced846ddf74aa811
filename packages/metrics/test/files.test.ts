/**
 * Image files: .npy as numpy writes it (dtypes, byte orders, Fortran order, version 2),
 * PNG and TIFF as PIL writes them (8 and 16 bits, every TIFF compression PIL offers, the
 * predictor, big-endian, pages), checked against the same pixels saved by numpy. Bad
 * files must fail with the file's name and the problem.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { colourAt, falseColour, writeFalseColourPng } from "../src/FalseColour.ts"
import { frame, stack } from "../src/Image.ts"
import { decodeImage, ImageFileError, readImage, readImageSync, writeNpy } from "../src/ImageFile.ts"
import { decodeNpy, encodeNpy } from "../src/Npy.ts"
import { decodePng, encodePng } from "../src/Png.ts"
import { lzwDecode, packBitsDecode } from "../src/Tiff.ts"
import { fixture } from "./reference.ts"

const raw = (name: string) => decodeNpy(fs.readFileSync(fixture(name)))
const problemOf = (thunk: () => unknown): string => {
  try {
    thunk()
  } catch (error) {
    assert.instanceOf(error, ImageFileError)
    return (error as ImageFileError).message
  }
  throw new Error("expected an ImageFileError")
}
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "metrics-files-"))

describe(".npy", () => {
  it("reads what numpy writes: uint8, uint16 (format 2.0), float32 (Fortran order), big-endian float64, stacks", () => {
    const u8 = raw("format-u8.npy")
    assert.strictEqual(u8.dtype, "uint8")
    assert.deepStrictEqual(u8.shape, [19, 23])
    assert.strictEqual(u8.data[0], 0)
    assert.strictEqual(u8.data[19 * 23 - 1], 255)
    const v2 = raw("format-u16-v2.npy")
    assert.deepStrictEqual([v2.dtype, v2.shape], ["uint16", [21, 17]])
    assert.deepStrictEqual([...v2.data], [...raw("format-u16.npy").data])
    assert.deepStrictEqual([...v2.data.subarray(0, 3)], [0, 1, 65535])
    const c = raw("format-f32.npy")
    assert.deepStrictEqual([...raw("format-f32-fortran.npy").data], [...c.data])
    const big = raw("format-f64-bigendian.npy")
    assert.strictEqual(big.dtype, "float64")
    assert.deepStrictEqual([...big.data], [...c.data])
    assert.isBelow(Math.min(...c.data), 0)
    const pair = raw("format-u8-stack.npy")
    assert.deepStrictEqual(pair.shape, [2, 19, 23])
    assert.strictEqual(pair.data[19 * 23], 255)
  })

  it("round-trips what it writes, header 64-byte aligned", () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i / 7)
    const bytes = encodeNpy({ dtype: "float32", shape: [2, 3, 4], data })
    assert.strictEqual((bytes.length - 24 * 4) % 64, 0)
    const back = decodeNpy(bytes)
    assert.deepStrictEqual([back.dtype, back.shape, [...back.data]], ["float32", [2, 3, 4], [...data]])
    const u16 = decodeNpy(encodeNpy({ dtype: "uint16", shape: [5], data: Uint16Array.from([1, 2, 3, 4, 65535]) }))
    assert.deepStrictEqual([...u16.data], [1, 2, 3, 4, 65535])
  })

  it.live("writeNpy writes float32 NxHxW (or HxW when squeezed)", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "out.npy")
      yield* writeNpy(file, stack(1, 2, 3, Float64Array.from([0, 0.5, 1, 0.25, 0.75, 1])), { squeeze: true })
      const back = yield* readImage(file)
      assert.deepStrictEqual([back.dtype, back.shape, [...back.stack.data]], ["float32", [2, 3], [0, 0.5, 1, 0.25, 0.75, 1]])
    }))
})

describe("PNG", () => {
  it("reads 8- and 16-bit grayscale as PIL wrote them", () => {
    const u8 = decodePng(fs.readFileSync(fixture("format-u8.png")))
    assert.deepStrictEqual([u8.dtype, u8.shape], ["uint8", [19, 23]])
    assert.deepStrictEqual([...u8.data], [...raw("format-u8.npy").data])
    const u16 = decodePng(fs.readFileSync(fixture("format-u16.png")))
    assert.deepStrictEqual([u16.dtype, u16.shape], ["uint16", [21, 17]])
    assert.deepStrictEqual([...u16.data], [...raw("format-u16.npy").data])
  })

  it("round-trips its own 8-bit, 16-bit and RGB output through every row filter", () => {
    const width = 31, height = 9
    // Equal ramps in the first rows (Sub, then Up, win), then scrambled rows.
    const gray = Uint8Array.from({ length: width * height }, (_, i) => (i < 5 * width ? (i % width) * 8 : i * i * 7919) & 0xff)
    assert.deepStrictEqual([...decodePng(encodePng({ width, height, channels: 1, data: gray })).data], [...gray])
    const deep = Uint16Array.from({ length: width * height }, (_, i) => (i * 2731) & 0xffff)
    assert.deepStrictEqual([...decodePng(encodePng({ width, height, channels: 1, data: deep })).data], [...deep])
    const grayRgb = new Uint8Array(width * height * 3).map((_, i) => gray[Math.floor(i / 3)]!)
    assert.deepStrictEqual([...decodePng(encodePng({ width, height, channels: 3, data: grayRgb })).data], [...gray])
    const png = encodePng({ width, height, channels: 1, data: gray })
    const idat = zlib.inflateSync(png.subarray(8 + 25 + 8, png.length - 12 - 4))
    const filters = new Set(Array.from({ length: height }, (_, y) => idat[y * (width + 1)]))
    assert.isAbove(filters.size, 1, "the encoder should choose more than one row filter here")
  })

  it("says what is wrong with a bad PNG", () => {
    const good = fs.readFileSync(fixture("format-u8.png"))
    assert.include(problemOf(() => decodeImage(good.subarray(0, good.length - 30), "cut.png")), "cut.png: truncated")
    const corrupt = Uint8Array.from(good)
    corrupt[60] = corrupt[60]! ^ 0xff
    assert.match(problemOf(() => decodeImage(corrupt, "flip.png")), /^flip\.png: chunk IDAT fails its CRC check/)
    assert.strictEqual(
      problemOf(() => readImageSync(fixture("bad-colour.png"))),
      `${fixture("bad-colour.png")}: RGB PNG with colour (pixel 1,0): expected a grayscale image`
    )
    const interlaced = Uint8Array.from(good)
    interlaced[8 + 8 + 12] = 1
    // Fix the IHDR's CRC so that only the interlace flag is wrong.
    new DataView(interlaced.buffer).setUint32(8 + 8 + 13, zlib.crc32(interlaced.subarray(12, 12 + 17)))
    assert.include(problemOf(() => decodeImage(interlaced, "i.png")), "interlaced (Adam7) PNG is not supported")
  })
})

describe("TIFF", () => {
  const u8 = [...raw("format-u8.npy").data]
  const u16 = [...raw("format-u16.npy").data]
  it.each(["raw", "tiff_lzw", "tiff_deflate", "packbits"])("reads 8-bit %s as PIL wrote it", (compression) => {
    const image = readImageSync(fixture(`format-u8-${compression}.tif`))
    assert.deepStrictEqual([image.format, image.dtype, image.shape], ["tiff", "uint8", [19, 23]])
    assert.deepStrictEqual([...image.stack.data].map((v) => Math.round(v * 255)), u8)
  })

  it.each(["raw", "tiff_lzw", "tiff_deflate", "lzw-predictor", "bigendian"])("reads 16-bit %s as PIL wrote it", (variant) => {
    const image = readImageSync(fixture(`format-u16-${variant}.tif`))
    assert.deepStrictEqual([image.dtype, image.shape], ["uint16", [21, 17]])
    assert.deepStrictEqual([...image.stack.data].map((v) => Math.round(v * 65535)), u16)
  })

  it("reads float32 as is, and pages as a stack", () => {
    const f = readImageSync(fixture("format-f32.tif"))
    assert.deepStrictEqual([f.dtype, f.shape], ["float32", [15, 12]])
    assert.deepStrictEqual([...f.stack.data], [...raw("format-f32.npy").data])
    const pages = readImageSync(fixture("format-u16-pages.tif"))
    assert.deepStrictEqual(pages.shape, [3, 21, 17])
    assert.deepStrictEqual([...pages.stack.data].map((v) => Math.round(v * 65535)), [...raw("format-u16-pages.npy").data])
  })

  it("decodes LZW's special case and PackBits runs", () => {
    // 9-bit codes: clear, 'A', 'A', code 258 ('AA' defined by the code itself), end.
    const codes = [256, 65, 65, 258, 257]
    const bits = codes.map((c) => c.toString(2).padStart(9, "0")).join("").padEnd(48, "0")
    const bytes = Uint8Array.from({ length: 6 }, (_, i) => parseInt(bits.slice(8 * i, 8 * i + 8), 2))
    assert.deepStrictEqual([...lzwDecode(bytes, 4)], [65, 65, 65, 65])
    assert.deepStrictEqual([...packBitsDecode(Uint8Array.from([2, 1, 2, 3, 0xfd, 9, 0x80, 0, 7]), 9)], [1, 2, 3, 9, 9, 9, 9, 7])
  })

  it("says what is wrong with a bad TIFF", () => {
    const good = fs.readFileSync(fixture("format-u16-raw.tif"))
    assert.match(problemOf(() => decodeImage(good.subarray(0, 200), "cut.tif")), /^cut\.tif: truncated/)
    const bigTiff = Uint8Array.from(good)
    bigTiff[2] = 43
    assert.strictEqual(problemOf(() => decodeImage(bigTiff, "big.tif")), "big.tif: BigTIFF is not supported")
  })
})

describe("bad files", () => {
  it("name the file and the problem", () => {
    const cases: Array<[string, string]> = [
      ["bad-int64.npy", "dtype int64 ('<i8') is not supported; expected float32, float64, uint16 or uint8"],
      ["bad-4d.npy", "shape (2, 1, 4, 4): expected HxW or NxHxW"],
      ["bad-nan.npy", "2 non-finite values (NaN or infinity), the first at image 0, row 3, column 4"],
      ["missing.npy", "no such file"]
    ]
    for (const [name, problem] of cases) assert.strictEqual(problemOf(() => readImageSync(fixture(name))), `${fixture(name)}: ${problem}`)
    const npy = fs.readFileSync(fixture("format-f32.npy"))
    assert.strictEqual(
      problemOf(() => decodeImage(npy.subarray(0, npy.length - 5), "short.npy")),
      "short.npy: truncated: shape (15, 12) of float32 needs 720 bytes of data, found 715"
    )
    assert.strictEqual(problemOf(() => decodeImage(new Uint8Array(0), "empty.npy")), "empty.npy: empty file")
    assert.strictEqual(
      problemOf(() => decodeImage(new TextEncoder().encode("hello"), "x.txt")),
      "x.txt: not a .npy, PNG or TIFF file (unrecognised first bytes)"
    )
  })

  it("lets a caller that reports non-finite values itself read them", () => {
    const loaded = readImageSync(fixture("bad-nan.npy"), { finite: false })
    assert.isNaN(loaded.stack.data[3 * 12 + 4]!)
  })

  it.live("fail in the Effect API with a tagged ImageFileError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readImage(fixture("bad-int64.npy")))
      assert.strictEqual(error._tag, "ImageFileError")
      assert.strictEqual(error.file, fixture("bad-int64.npy"))
    }))
})

describe("false colour", () => {
  it("maps the frame's range through inferno's anchors", () => {
    assert.deepStrictEqual(colourAt("inferno", 0), [0, 0, 4])
    assert.deepStrictEqual(colourAt("inferno", 1), [252, 255, 164])
    assert.deepStrictEqual(colourAt("inferno", 0.5), [165, 44, 96])
    assert.deepStrictEqual(colourAt("gray", 0.5), [128, 128, 128])
    // Through a 256-level table: the middle value lands on level 128, just past the anchor.
    const image = falseColour(frame(stack(1, 1, 3, Float32Array.from([10, 20, 30])), 0))
    assert.deepStrictEqual([...image.data], [0, 0, 4, 166, 44, 96, 252, 255, 164])
    // float32(0.9) is 0.89999998: level 229.49, rounded down.
    const fixed = falseColour(frame(stack(1, 1, 2, Float32Array.from([0.2, 0.9])), 0), { lo: 0, hi: 1, palette: "gray" })
    assert.deepStrictEqual([...fixed.data], [51, 51, 51, 229, 229, 229])
  })

  it.live("writes an RGB PNG that decodes back to its size", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "inferno.png")
      const source = readImageSync(fixture("format-u16.png")).stack
      yield* writeFalseColourPng(file, frame(source, 0))
      const bytes = fs.readFileSync(file)
      assert.strictEqual(bytes.readUInt32BE(16), 17)
      assert.strictEqual(bytes.readUInt32BE(20), 21)
      assert.strictEqual(bytes[25], 2)
    }))
})
