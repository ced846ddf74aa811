/**
 * TIFF read: baseline grayscale images in strips, either byte order, 8- or 16-bit
 * unsigned or 32/64-bit float samples, uncompressed, PackBits, LZW or Deflate, with or
 * without the horizontal-differencing predictor. Several full-size pages of the same
 * size read as a stack; reduced-resolution pages (thumbnails) are skipped. Refuses more
 * than `maxPixels` pixels over all pages, and strips that inflate past their size,
 * before allocating for either.
 */
import * as zlib from "node:zlib"
import { fail } from "./DecodeError.ts"
import type { Dtype, Raw, Samples } from "./Image.ts"
import { maxPixels } from "./Limits.ts"

const typeSize: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8 }
const compressionNames: Record<number, string> = { 2: "CCITT", 6: "old JPEG", 7: "JPEG", 34712: "JPEG 2000" }

interface Page {
  readonly width: number
  readonly height: number
  readonly dtype: Dtype
  readonly bits: number
  readonly compression: number
  readonly predictor: number
  readonly whiteIsZero: boolean
  readonly rowsPerStrip: number
  readonly offsets: ReadonlyArray<number>
  readonly counts: ReadonlyArray<number>
}

/** TIFF's LZW: MSB-first codes of 9 to 12 bits, widened one code early. */
export const lzwDecode = (input: Uint8Array, expected: number): Uint8Array => {
  const out = new Uint8Array(expected)
  const prefix = new Int32Array(4096)
  const suffix = new Uint8Array(4096)
  const length = new Int32Array(4096)
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1
    suffix[i] = i
    length[i] = 1
  }
  let written = 0
  const emit = (code: number): number => {
    // Writes the string for `code` backwards from its end; returns its first byte.
    const n = length[code]!
    let at = written + n - 1
    let c = code
    while (c >= 0) {
      if (at < expected) out[at] = suffix[c]!
      at--
      c = prefix[c]!
    }
    const first = out[Math.min(written, expected - 1)]!
    written += n
    return first
  }
  let width = 9
  let next = 258
  let previous = -1
  let bitPos = 0
  const totalBits = input.length * 8
  while (bitPos + width <= totalBits && written < expected) {
    let code = 0
    for (let b = 0; b < width; b++, bitPos++) code = (code << 1) | ((input[bitPos >> 3]! >> (7 - (bitPos & 7))) & 1)
    if (code === 257) break
    if (code === 256) {
      width = 9
      next = 258
      previous = -1
      continue
    }
    if (previous === -1) {
      if (code > 255) fail("tiff", "corrupt LZW data (first code is not a literal)")
      emit(code)
      previous = code
      continue
    }
    if (code < next) {
      const first = emit(code)
      if (next < 4096) {
        prefix[next] = previous
        suffix[next] = first
        length[next] = length[previous]! + 1
        next++
      }
    } else if (code === next && next < 4096) {
      prefix[next] = previous
      length[next] = length[previous]! + 1
      // The new string is the previous one plus its own first byte.
      let c = previous
      while (prefix[c]! >= 0) c = prefix[c]!
      suffix[next] = suffix[c]!
      next++
      emit(code)
    } else {
      fail("tiff", `corrupt LZW data (code ${code} before it was defined)`)
    }
    previous = code
    if (next + 1 >= 1 << width && width < 12) width++
  }
  return out.subarray(0, Math.min(written, expected))
}

export const packBitsDecode = (input: Uint8Array, expected: number): Uint8Array => {
  const out = new Uint8Array(expected)
  let i = 0
  let o = 0
  while (i < input.length && o < expected) {
    const n = (input[i++]! << 24) >> 24
    if (n >= 0) {
      out.set(input.subarray(i, i + n + 1).subarray(0, expected - o), o)
      o += n + 1
      i += n + 1
    } else if (n !== -128) {
      out.fill(input[i++]!, o, Math.min(expected, o + 1 - n))
      o += 1 - n
    }
  }
  return out.subarray(0, Math.min(o, expected))
}

interface Entry {
  readonly type: number
  readonly count: number
  /** Where its values start in the file. */
  readonly start: number
}

const isCount = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n > 0

const readPages = (bytes: Uint8Array, view: DataView, little: boolean): Array<Page> => {
  const pages: Array<Page> = []
  const seen = new Set<number>()
  let entriesRead = 0
  let pixels = 0
  const valueAt = (entry: Entry, k: number): number => {
    const p = entry.start + k * typeSize[entry.type]!
    const type = entry.type
    return type === 3 ? view.getUint16(p, little)
      : type === 4 ? view.getUint32(p, little)
      : type === 8 ? view.getInt16(p, little)
      : type === 9 ? view.getInt32(p, little)
      : type === 11 ? view.getFloat32(p, little)
      : type === 12 ? view.getFloat64(p, little)
      : type === 5 || type === 10 ? view.getUint32(p, little) / view.getUint32(p + 4, little)
      : bytes[p]!
  }
  let offset = view.getUint32(4, little)
  while (offset !== 0) {
    if (seen.has(offset)) fail("tiff", "the directory chain loops")
    seen.add(offset)
    if (offset + 2 > bytes.length) fail("tiff", `truncated: directory at byte ${offset}, the file has ${bytes.length}`)
    const entries = view.getUint16(offset, little)
    if (offset + 2 + entries * 12 + 4 > bytes.length) fail("tiff", `truncated directory at byte ${offset}`)
    // In a real file each entry has 12 bytes of its own; directories laid over each other would make the walk quadratic.
    entriesRead += entries
    if (entriesRead * 12 > bytes.length) fail("tiff", "its directories hold more entries than the file has room for (they overlap)")
    const tags = new Map<number, Entry>()
    for (let e = 0; e < entries; e++) {
      const at = offset + 2 + e * 12
      const tag = view.getUint16(at, little)
      const type = view.getUint16(at + 2, little)
      const count = view.getUint32(at + 4, little)
      const size = typeSize[type]
      if (size === undefined) continue
      const start = size * count <= 4 ? at + 8 : view.getUint32(at + 8, little)
      if (start + size * count > bytes.length) fail("tiff", `truncated: tag ${tag} points past the end of the file`)
      tags.set(tag, { type, count, start })
    }
    offset = view.getUint32(offset + 2 + entries * 12, little)
    const get = (tag: number, fallback?: number) => {
      const entry = tags.get(tag)
      return entry !== undefined && entry.count > 0 ? valueAt(entry, 0) : fallback
    }
    if (((get(254, 0)!) & 1) === 1) continue // a reduced-resolution copy
    const page = pages.length + 1
    const width = get(256)
    const height = get(257)
    if (width === undefined || height === undefined) fail("tiff", `page ${page} has no image size`)
    if (!isCount(width) || !isCount(height)) fail("tiff", `page ${page} has an invalid size ${width}x${height}`)
    pixels += width! * height!
    if (pixels > maxPixels) {
      fail("tiff", `page ${page} is ${width}x${height}: the file holds more than the limit of ${maxPixels} pixels (a larger stack must be split, or saved as .npy)`)
    }
    if (tags.has(322) || tags.has(324)) fail("tiff", "tiled TIFF is not supported: save it in strips")
    const samples = get(277, 1)!
    const photometric = get(262, 1)!
    if (samples !== 1 || (photometric !== 0 && photometric !== 1)) {
      fail("tiff", `page ${page} is not a grayscale image (${samples} samples per pixel, photometric ${photometric})`)
    }
    const bits = get(258, 1)!
    const format = get(339, 1)!
    const dtype: Dtype | undefined = format === 1 && bits === 8 ? "uint8"
      : format === 1 && bits === 16 ? "uint16"
      : format === 3 && bits === 32 ? "float32"
      : format === 3 && bits === 64 ? "float64"
      : undefined
    if (dtype === undefined) {
      const kind = format === 1 ? "unsigned" : format === 2 ? "signed" : format === 3 ? "float" : `format-${format}`
      fail("tiff", `${bits}-bit ${kind} samples are not supported; expected 8- or 16-bit unsigned, or 32- or 64-bit float`)
    }
    const compression = get(259, 1)!
    if (![1, 5, 8, 32946, 32773].includes(compression)) {
      fail("tiff", `${compressionNames[compression] ?? `compression ${compression}`} is not supported; expected none, LZW, Deflate or PackBits`)
    }
    const predictor = get(317, 1)!
    if (predictor !== 1 && predictor !== 2) fail("tiff", `predictor ${predictor} is not supported`)
    const rowsPerStrip = get(278, height)
    if (!isCount(rowsPerStrip)) fail("tiff", `page ${page} has an invalid RowsPerStrip ${rowsPerStrip}`)
    const offsets = tags.get(273)
    const counts = tags.get(279)
    if (offsets === undefined || counts === undefined || offsets.count !== counts.count || offsets.count === 0) {
      fail("tiff", `page ${page} has no valid strip offsets`)
    }
    // A strip holds one row or more.
    if (offsets!.count > height!) fail("tiff", `page ${page} has ${offsets!.count} strips for ${height} rows`)
    pages.push({
      width: width!,
      height: height!,
      dtype: dtype!,
      bits,
      compression,
      predictor,
      whiteIsZero: photometric === 0,
      rowsPerStrip: Math.min(rowsPerStrip!, height!),
      offsets: Array.from({ length: offsets!.count }, (_, k) => valueAt(offsets!, k)),
      counts: Array.from({ length: counts!.count }, (_, k) => valueAt(counts!, k))
    })
  }
  return pages
}

const decodePage = (bytes: Uint8Array, page: Page, little: boolean, index: number): Samples => {
  const itemSize = page.bits / 8
  const stride = page.width * itemSize
  const raw = new Uint8Array(page.height * stride)
  let filled = 0
  for (let s = 0; s < page.offsets.length && filled < raw.length; s++) {
    const start = page.offsets[s]!
    const end = start + page.counts[s]!
    if (!Number.isInteger(start) || start < 0 || !Number.isInteger(end) || end < start) {
      fail("tiff", `page ${index + 1}, strip ${s} has an invalid offset ${start} or byte count ${page.counts[s]}`)
    }
    if (end > bytes.length) fail("tiff", `truncated: page ${index + 1}, strip ${s} ends at byte ${end}, the file has ${bytes.length}`)
    const input = bytes.subarray(start, end)
    const want = Math.min(page.rowsPerStrip * stride, raw.length - filled)
    let strip: Uint8Array
    if (page.compression === 1) strip = input.subarray(0, want)
    else if (page.compression === 5) strip = lzwDecode(input, want)
    else if (page.compression === 32773) strip = packBitsDecode(input, want)
    else {
      // Never more than a strip holds: a few kilobytes of zeros inflate to gigabytes.
      const holds = page.rowsPerStrip * stride
      try {
        strip = zlib.inflateSync(input, { maxOutputLength: holds })
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
          return fail("tiff", `strip ${s} inflates to more than the ${holds} bytes it holds (${page.rowsPerStrip} rows of ${stride})`)
        }
        return fail("tiff", `corrupt Deflate data in strip ${s}: ${(error as Error).message}`)
      }
    }
    if (strip.length < want) fail("tiff", `truncated: strip ${s} of page ${index + 1} holds ${strip.length} bytes, expected ${want}`)
    raw.set(strip.subarray(0, want), filled)
    filled += want
  }
  if (filled < raw.length) fail("tiff", `page ${index + 1}: its strips hold ${filled} bytes, the image needs ${raw.length}`)
  const view = new DataView(raw.buffer)
  const n = page.width * page.height
  const data: Samples = page.dtype === "uint8" ? raw
    : page.dtype === "uint16" ? new Uint16Array(n)
    : page.dtype === "float32" ? new Float32Array(n)
    : new Float64Array(n)
  if (page.dtype === "uint16") for (let i = 0; i < n; i++) data[i] = view.getUint16(2 * i, little)
  if (page.dtype === "float32") for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, little)
  if (page.dtype === "float64") for (let i = 0; i < n; i++) data[i] = view.getFloat64(8 * i, little)
  if (page.predictor === 2) {
    if (page.dtype !== "uint8" && page.dtype !== "uint16") fail("tiff", "the horizontal predictor is supported for integer samples only")
    const mask = page.dtype === "uint8" ? 0xff : 0xffff
    for (let y = 0; y < page.height; y++) {
      for (let x = 1; x < page.width; x++) data[y * page.width + x] = (data[y * page.width + x]! + data[y * page.width + x - 1]!) & mask
    }
  }
  if (page.whiteIsZero) {
    if (page.dtype === "uint8" || page.dtype === "uint16") {
      const max = page.dtype === "uint8" ? 0xff : 0xffff
      for (let i = 0; i < n; i++) data[i] = max - data[i]!
    } else fail("tiff", "WhiteIsZero float images are not supported")
  }
  return data
}

/** Decodes a TIFF: shape [height, width] for one page, [pages, height, width] for several. */
export const decodeTiff = (bytes: Uint8Array): Raw => {
  if (bytes.length < 8) fail("tiff", `truncated (${bytes.length} bytes)`)
  const order = String.fromCharCode(bytes[0]!, bytes[1]!)
  if (order !== "II" && order !== "MM") fail("tiff", "not a TIFF file (no II or MM byte-order mark)")
  const little = order === "II"
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const magic = view.getUint16(2, little)
  if (magic === 43) fail("tiff", "BigTIFF is not supported")
  if (magic !== 42) fail("tiff", `not a TIFF file (magic ${magic}, expected 42)`)
  const pages = readPages(bytes, view, little)
  if (pages.length === 0) fail("tiff", "no image in the file")
  const first = pages[0]!
  pages.forEach((page, i) => {
    if (page.width !== first.width || page.height !== first.height || page.dtype !== first.dtype) {
      fail("tiff", `page ${i + 1} is ${page.height}x${page.width} ${page.dtype}, page 1 ${first.height}x${first.width} ${first.dtype}: a stack needs equal pages`)
    }
  })
  const decoded = pages.map((page, i) => decodePage(bytes, page, little, i))
  if (decoded.length === 1) return { dtype: first.dtype, shape: [first.height, first.width], data: decoded[0]! }
  const size = first.width * first.height
  const data = new (decoded[0]!.constructor as new (n: number) => Samples)(size * decoded.length)
  decoded.forEach((page, i) => data.set(page, i * size))
  return { dtype: first.dtype, shape: [decoded.length, first.height, first.width], data }
}
