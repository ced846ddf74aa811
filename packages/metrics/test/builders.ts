/**
 * Hand-built image files for the tests of hostile and fuzzed input: a PNG with any
 * header fields and IDAT (valid CRCs, so the decoder reaches what is inside), a one-strip
 * little-endian TIFF with any size and compression, and an .npy with any header text.
 */
import * as zlib from "node:zlib"

const chunk = (type: string, data: Uint8Array): Buffer => {
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  out.write(type, 4, "latin1")
  Buffer.from(data).copy(out, 8)
  out.writeUInt32BE(zlib.crc32(out.subarray(4, 8 + data.length)), 8 + data.length)
  return out
}

export interface PngFields {
  readonly width: number
  readonly height: number
  readonly depth?: number
  readonly colour?: number
  readonly interlace?: number
  /** The IDAT chunks' data, already compressed (one chunk each). */
  readonly idat: Uint8Array | ReadonlyArray<Uint8Array>
}

export const pngOf = (fields: PngFields): Uint8Array => {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(fields.width >>> 0, 0)
  ihdr.writeUInt32BE(fields.height >>> 0, 4)
  ihdr[8] = fields.depth ?? 8
  ihdr[9] = fields.colour ?? 0
  ihdr[12] = fields.interlace ?? 0
  const idats = fields.idat instanceof Uint8Array ? [fields.idat] : fields.idat
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...idats.map((data) => chunk("IDAT", data)),
    chunk("IEND", new Uint8Array(0))
  ])
}

export interface TiffFields {
  readonly width: number
  readonly height: number
  readonly bits?: number
  /** 1 none, 5 LZW, 8 Deflate, 32773 PackBits. */
  readonly compression: number
  /** SampleFormat: 1 unsigned, 3 float. */
  readonly format?: number
  readonly predictor?: number
  readonly rowsPerStrip?: number
  /** The one strip's bytes, as stored. */
  readonly strip: Uint8Array
}

/** A one-page, one-strip TIFF, little-endian; every tag is a LONG (type 4). */
export const tiffOf = (fields: TiffFields): Uint8Array => {
  const tags: Array<[number, number]> = [
    [256, fields.width],
    [257, fields.height],
    [258, fields.bits ?? 8],
    [259, fields.compression],
    [262, 1],
    [273, 0], // strip offset, set below
    [277, 1],
    [278, fields.rowsPerStrip ?? fields.height],
    [279, fields.strip.length],
    [317, fields.predictor ?? 1],
    [339, fields.format ?? 1]
  ]
  const ifdSize = 2 + tags.length * 12 + 4
  const stripOffset = 8 + ifdSize
  const out = Buffer.alloc(stripOffset + fields.strip.length)
  out.write("II", 0, "latin1")
  out.writeUInt16LE(42, 2)
  out.writeUInt32LE(8, 4)
  out.writeUInt16LE(tags.length, 8)
  tags.forEach(([tag, value], i) => {
    const at = 10 + i * 12
    out.writeUInt16LE(tag, at)
    out.writeUInt16LE(4, at + 2)
    out.writeUInt32LE(1, at + 4)
    out.writeUInt32LE((tag === 273 ? stripOffset : value) >>> 0, at + 8)
  })
  out.writeUInt32LE(0, 8 + ifdSize - 4)
  Buffer.from(fields.strip).copy(out, stripOffset)
  return out
}

/** A version 1.0 .npy with `header` as its dictionary text and `data` after it. */
export const npyOf = (header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const text = Buffer.from(header + "\n", "latin1")
  const out = Buffer.alloc(10 + text.length + data.length)
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(out, 0)
  out.writeUInt16LE(text.length, 8)
  text.copy(out, 10)
  Buffer.from(data).copy(out, 10 + text.length)
  return out
}
