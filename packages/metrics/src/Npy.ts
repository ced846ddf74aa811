/**
 * NumPy's `.npy` format, read and written: a magic string, a Python-literal header
 * (dtype, memory order, shape), then the raw samples. Reads uint8, uint16, float32 and
 * float64 in either byte order and either memory order; writes little-endian, C order.
 * The file's size must match its declared shape, which is checked before the data is copied.
 */
import { fail } from "./DecodeError.ts"
import type { Dtype, Raw, Samples } from "./Image.ts"

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] // \x93NUMPY

const kinds: Record<string, Dtype> = { u1: "uint8", u2: "uint16", f4: "float32", f8: "float64" }
const codes: Record<Dtype, string> = { uint8: "|u1", uint16: "<u2", float32: "<f4", float64: "<f8" }
const itemSize: Record<Dtype, number> = { uint8: 1, uint16: 2, float32: 4, float64: 8 }

const names: Record<string, string> = {
  b1: "bool", i1: "int8", i2: "int16", i4: "int32", i8: "int64", u4: "uint32", u8: "uint64", f2: "float16",
  c8: "complex64", c16: "complex128"
}

interface Header {
  readonly dtype: Dtype
  readonly bigEndian: boolean
  readonly fortran: boolean
  readonly shape: ReadonlyArray<number>
  readonly dataOffset: number
}

const parseHeader = (bytes: Uint8Array): Header => {
  if (bytes.length < 10 || MAGIC.some((byte, i) => bytes[i] !== byte)) fail("npy", "not a .npy file (no \\x93NUMPY magic)")
  const major = bytes[6]!
  if (major < 1 || major > 3) fail("npy", `unknown .npy format version ${major}.${bytes[7]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const lengthSize = major === 1 ? 2 : 4
  if (bytes.length < 8 + lengthSize) fail("npy", "truncated header")
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const start = 8 + lengthSize
  if (bytes.length < start + headerLength) fail("npy", `truncated header (${bytes.length} bytes, header needs ${start + headerLength})`)
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(start, start + headerLength))
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1]
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1]
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1]
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail("npy", `malformed header: ${text.trim()}`)
  const code = /^([<>|=]?)([a-z]\d+)$/.exec(descr!)
  const dtype = code ? kinds[code[2]!] : undefined
  if (code === null || dtype === undefined) {
    const name = code ? names[code[2]!] ?? descr : descr
    fail("npy", `dtype ${name} ('${descr}') is not supported; expected float32, float64, uint16 or uint8`)
  }
  const parts = shapeText!.split(",").map((part) => part.trim()).filter((part) => part !== "")
  if (parts.some((part) => !/^\d+$/.test(part))) fail("npy", `malformed shape (${shapeText})`)
  // numpy's own limit; more axes would only make the reorder of a Fortran array slow.
  if (parts.length > 64) fail("npy", `shape with ${parts.length} axes: numpy allows 64 at most`)
  const shape = parts.map(Number)
  if (shape.some((n) => !Number.isSafeInteger(n))) fail("npy", `malformed shape (${shapeText})`)
  return { dtype: dtype!, bigEndian: code![1] === ">", fortran: fortran === "True", shape, dataOffset: start + headerLength }
}

/** From Fortran (column-major) order to C (row-major) order. */
const toRowMajor = (data: Samples, shape: ReadonlyArray<number>): Samples => {
  const out = new (data.constructor as new (n: number) => Samples)(data.length)
  const dims = shape.length
  const fStrides = shape.map((_, axis) => shape.slice(0, axis).reduce((a, b) => a * b, 1))
  const index = new Array<number>(dims).fill(0)
  for (let c = 0; c < data.length; c++) {
    let f = 0
    for (let axis = 0; axis < dims; axis++) f += index[axis]! * fStrides[axis]!
    out[c] = data[f]!
    for (let axis = dims - 1; axis >= 0; axis--) {
      if (++index[axis]! < shape[axis]!) break
      index[axis] = 0
    }
  }
  return out
}

/** Decodes a whole `.npy` file. */
export const decodeNpy = (bytes: Uint8Array): Raw => {
  const header = parseHeader(bytes)
  const count = header.shape.reduce((a, b) => a * b, 1)
  const size = itemSize[header.dtype]
  const available = bytes.length - header.dataOffset
  if (available < count * size) {
    fail("npy", `truncated: shape (${header.shape.join(", ")}) of ${header.dtype} needs ${count * size} bytes of data, found ${available}`)
  }
  if (available > count * size) {
    fail("npy", `${available - count * size} bytes past the end of the data for shape (${header.shape.join(", ")}) of ${header.dtype}`)
  }
  // Copy into a fresh, aligned buffer (a Buffer's slice would be a view); swap bytes for big-endian files.
  const raw = new Uint8Array(bytes.subarray(header.dataOffset, header.dataOffset + count * size))
  if (header.bigEndian && size > 1) {
    for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse()
  }
  const data: Samples = header.dtype === "uint8"
    ? raw
    : header.dtype === "uint16"
    ? new Uint16Array(raw.buffer, 0, count)
    : header.dtype === "float32"
    ? new Float32Array(raw.buffer, 0, count)
    : new Float64Array(raw.buffer, 0, count)
  return { dtype: header.dtype, shape: header.shape, data: header.fortran && header.shape.length > 1 ? toRowMajor(data, header.shape) : data }
}

/** Encodes samples as a version 1.0 `.npy` file, little-endian, C order, data 64-byte aligned. */
export const encodeNpy = (array: Raw): Uint8Array => {
  const count = array.shape.reduce((a, b) => a * b, 1)
  if (count !== array.data.length) {
    throw new RangeError(`shape (${array.shape.join(", ")}) holds ${count} values, the data ${array.data.length}`)
  }
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(", ")})`
  const dict = `{'descr': '${codes[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`
  const padded = dict.padEnd(Math.ceil((10 + dict.length + 1) / 64) * 64 - 10 - 1, " ") + "\n"
  const header = new TextEncoder().encode(padded)
  const out = new Uint8Array(10 + header.length + array.data.byteLength)
  out.set(MAGIC, 0)
  out[6] = 1
  out[7] = 0
  new DataView(out.buffer).setUint16(8, header.length, true)
  out.set(header, 10)
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), 10 + header.length)
  return out
}
