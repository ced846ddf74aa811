/**
 * PNG read and write, on Node's zlib. Reads non-interlaced grayscale images of 8 or 16
 * bits (an alpha channel is ignored; RGB is accepted only when every pixel is gray) and
 * checks every chunk's CRC. Refuses more than `maxPixels` pixels, and image data that
 * inflates past what the declared size needs, before allocating for either. Writes 8- or
 * 16-bit grayscale and 8-bit RGB, for reports.
 */
import * as zlib from "node:zlib"
import { fail } from "./DecodeError.ts"
import type { Raw } from "./Image.ts"
import { maxPixels } from "./Limits.ts"

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
const channelsOf: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }
const colourNames: Record<number, string> = { 0: "grayscale", 2: "RGB", 3: "palette", 4: "grayscale+alpha", 6: "RGBA" }

interface Chunk {
  readonly type: string
  readonly data: Uint8Array
}

const chunks = (bytes: Uint8Array): Array<Chunk> => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const found: Array<Chunk> = []
  let at = 8
  while (true) {
    if (at + 8 > bytes.length) fail("png", `truncated after ${bytes.length} bytes (no IEND chunk)`)
    const length = view.getUint32(at)
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8))
    const end = at + 12 + length
    if (end > bytes.length) fail("png", `truncated: chunk ${type} needs ${end} bytes, the file has ${bytes.length}`)
    const crc = view.getUint32(at + 8 + length)
    if (zlib.crc32(bytes.subarray(at + 4, at + 8 + length)) !== crc) fail("png", `chunk ${type} fails its CRC check (corrupt file)`)
    found.push({ type, data: bytes.subarray(at + 8, at + 8 + length) })
    if (type === "IEND") return found
    at = end
  }
}

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c)
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c
}

/** Undoes the per-row filters in place; returns the filtered rows without their filter bytes. */
const unfilter = (scanlines: Uint8Array, height: number, stride: number, bpp: number): Uint8Array => {
  const out = new Uint8Array(height * stride)
  for (let y = 0; y < height; y++) {
    const filter = scanlines[y * (stride + 1)]!
    const line = scanlines.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const row = y * stride
    const up = row - stride
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp]! : 0
      const b = y > 0 ? out[up + x]! : 0
      const c = x >= bpp && y > 0 ? out[up + x - bpp]! : 0
      const raw = line[x]!
      switch (filter) {
        case 0: out[row + x] = raw; break
        case 1: out[row + x] = raw + a; break
        case 2: out[row + x] = raw + b; break
        case 3: out[row + x] = raw + ((a + b) >> 1); break
        case 4: out[row + x] = raw + paeth(a, b, c); break
        default: fail("png", `row ${y} has unknown filter type ${filter} (corrupt image data)`)
      }
    }
  }
  return out
}

/** Decodes a grayscale PNG (see the module comment for what else is accepted). */
export const decodePng = (bytes: Uint8Array): Raw => {
  if (bytes.length < 8 || SIGNATURE.some((byte, i) => bytes[i] !== byte)) fail("png", "not a PNG file (bad signature)")
  const all = chunks(bytes)
  const ihdr = all[0]
  if (ihdr?.type !== "IHDR" || ihdr.data.length !== 13) fail("png", "the first chunk is not a valid IHDR")
  const header = new DataView(ihdr!.data.buffer, ihdr!.data.byteOffset, 13)
  const width = header.getUint32(0)
  const height = header.getUint32(4)
  const depth = ihdr!.data[8]!
  const colour = ihdr!.data[9]!
  const interlace = ihdr!.data[12]!
  const channels = channelsOf[colour]
  if (channels === undefined) fail("png", `unknown colour type ${colour}`)
  if (colour === 3) fail("png", "palette PNG: expected a grayscale image (save it as 8- or 16-bit grayscale)")
  if (depth !== 8 && depth !== 16) fail("png", `${depth}-bit ${colourNames[colour]} PNG: only 8- and 16-bit images are supported`)
  if (interlace !== 0) fail("png", "interlaced (Adam7) PNG is not supported: save it without interlacing")
  if (width === 0 || height === 0) fail("png", `empty image (${width}x${height})`)
  if (width * height > maxPixels) {
    fail("png", `${width}x${height} is ${width * height} pixels, over the limit of ${maxPixels} (a larger image must be split, or saved as .npy)`)
  }
  const compressed = Buffer.concat(all.filter((chunk) => chunk.type === "IDAT").map((chunk) => chunk.data))
  if (compressed.length === 0) fail("png", "no IDAT chunk (no image data)")
  const bpp = (channels! * depth) / 8
  const stride = width * bpp
  const needed = height * (stride + 1)
  let scanlines: Uint8Array
  try {
    // Never more than the declared size needs: a few kilobytes of zeros inflate to gigabytes.
    scanlines = zlib.inflateSync(compressed, { maxOutputLength: needed })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      return fail("png", `image data inflates to more than the ${needed} bytes ${width}x${height} ${depth}-bit ${colourNames[colour]} needs`)
    }
    return fail("png", `corrupt image data: ${(error as Error).message}`)
  }
  if (scanlines.length < needed) {
    fail("png", `image data too short: ${height} rows of ${stride + 1} bytes need ${needed}, found ${scanlines.length}`)
  }
  const pixels = unfilter(scanlines, height, stride, bpp)
  const n = width * height
  const data = depth === 8 ? new Uint8Array(n) : new Uint16Array(n)
  const sample = depth === 8
    ? (i: number) => pixels[i]!
    : (i: number) => (pixels[2 * i]! << 8) | pixels[2 * i + 1]!
  for (let p = 0; p < n; p++) {
    const first = sample(p * channels!)
    if ((colour === 2 || colour === 6) && (sample(p * channels! + 1) !== first || sample(p * channels! + 2) !== first)) {
      fail("png", `${colourNames[colour]} PNG with colour (pixel ${p % width},${Math.floor(p / width)}): expected a grayscale image`)
    }
    data[p] = first
  }
  return { dtype: depth === 8 ? "uint8" : "uint16", shape: [height, width], data }
}

export interface PngImage {
  readonly width: number
  readonly height: number
  /** 1: grayscale, 3: RGB. */
  readonly channels: 1 | 3
  /** 8-bit samples in a Uint8Array, or 16-bit grayscale samples in a Uint16Array. */
  readonly data: Uint8Array | Uint16Array
}

const chunk = (type: string, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i)
  out.set(data, 8)
  view.setUint32(8 + data.length, zlib.crc32(out.subarray(4, 8 + data.length)))
  return out
}

/** Encodes an image, each row with the filter whose output has the smallest absolute sum. */
export const encodePng = (image: PngImage): Uint8Array => {
  const depth = image.data instanceof Uint16Array ? 16 : 8
  if (depth === 16 && image.channels !== 1) throw new RangeError("16-bit PNG output is grayscale only")
  if (image.data.length !== image.width * image.height * image.channels) {
    throw new RangeError(`${image.width}x${image.height}x${image.channels} needs ${image.width * image.height * image.channels} samples, got ${image.data.length}`)
  }
  const bpp = (image.channels * depth) / 8
  const stride = image.width * bpp
  const bytes = new Uint8Array(image.height * stride)
  if (depth === 16) image.data.forEach((v, i) => { bytes[2 * i] = v >> 8; bytes[2 * i + 1] = v & 0xff })
  else bytes.set(image.data)
  const scanlines = new Uint8Array(image.height * (stride + 1))
  const candidate = new Uint8Array(stride)
  for (let y = 0; y < image.height; y++) {
    const row = y * stride
    let best = Infinity
    for (let filter = 0; filter < 5; filter++) {
      let cost = 0
      for (let x = 0; x < stride; x++) {
        const a = x >= bpp ? bytes[row + x - bpp]! : 0
        const b = y > 0 ? bytes[row - stride + x]! : 0
        const c = x >= bpp && y > 0 ? bytes[row - stride + x - bpp]! : 0
        const predicted = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c)
        const v = (bytes[row + x]! - predicted) & 0xff
        candidate[x] = v
        cost += v < 128 ? v : 256 - v
      }
      if (cost < best) {
        best = cost
        scanlines[y * (stride + 1)] = filter
        scanlines.set(candidate, y * (stride + 1) + 1)
      }
    }
  }
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, image.width)
  view.setUint32(4, image.height)
  ihdr[8] = depth
  ihdr[9] = image.channels === 1 ? 0 : 2
  return Buffer.concat([
    Uint8Array.from(SIGNATURE),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(scanlines)),
    chunk("IEND", new Uint8Array(0))
  ])
}
