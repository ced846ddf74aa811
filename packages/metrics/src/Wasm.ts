/**
 * A minimal WebAssembly module writer: functions over i32, f64 and v128 values and one
 * exported memory, encoded in the binary format. Just enough for kernels generated at
 * run time (see `SsimSimd`), so that no compiler or binary blob is needed.
 */

export type ValueType = "i32" | "f64" | "v128"
const valueCode: Record<ValueType, number> = { i32: 0x7f, f64: 0x7c, v128: 0x7b }

/** Unsigned LEB128. */
export const uleb = (value: number): Array<number> => {
  const out: Array<number> = []
  let n = value >>> 0
  do {
    const byte = n & 0x7f
    n >>>= 7
    out.push(n === 0 ? byte : byte | 0x80)
  } while (n !== 0)
  return out
}

/** Signed LEB128 (32-bit). */
export const sleb = (value: number): Array<number> => {
  const out: Array<number> = []
  let n = value | 0
  while (true) {
    const byte = n & 0x7f
    n >>= 7
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)
    out.push(done ? byte : byte | 0x80)
    if (done) return out
  }
}

const f64Bytes = (value: number): Array<number> => [...new Uint8Array(Float64Array.of(value).buffer)]
const simd = (code: number, ...rest: Array<number>) => [0xfd, ...uleb(code), ...rest]

/** Instructions, each as its bytes. Memory offsets are static byte offsets added to the address. */
export const I = {
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  tee: (local: number) => [0x22, ...uleb(local)],
  i32: (value: number) => [0x41, ...sleb(value)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32RemU: [0x70],
  i32And: [0x71],
  i32LtS: [0x48],
  i32Eqz: [0x45],
  f64: (value: number) => [0x44, ...f64Bytes(value)],
  f64Add: [0xa0],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  load: (offset = 0) => simd(0x00, 3, ...uleb(offset)),
  store: (offset = 0) => simd(0x0b, 3, ...uleb(offset)),
  splat: simd(0x14),
  lane: (index: number) => simd(0x21, index),
  add: simd(0xf0),
  sub: simd(0xf1),
  mul: simd(0xf2),
  div: simd(0xf3)
} as const

export interface WasmFunction {
  readonly name: string
  readonly params: ReadonlyArray<ValueType>
  readonly results: ReadonlyArray<ValueType>
  /** Locals after the parameters, in order. */
  readonly locals: ReadonlyArray<ValueType>
  readonly body: ReadonlyArray<number | ReadonlyArray<number>>
}

const vector = (items: ReadonlyArray<ReadonlyArray<number>>) => [...uleb(items.length), ...items.flat()]
const section = (id: number, content: ReadonlyArray<number>) => [id, ...uleb(content.length), ...content]
const name = (text: string) => vector([...new TextEncoder().encode(text)].map((b) => [b]))

/** A module exporting `memory` (at least `pages` of 64 KiB) and the functions by name. */
export const encodeModule = (functions: ReadonlyArray<WasmFunction>, pages: number): Uint8Array => {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((t) => [valueCode[t]])), ...vector(f.results.map((t) => [valueCode[t]]))])
  const code = functions.map((f) => {
    const locals = vector(f.locals.map((t) => [1, valueCode[t]]))
    const body = [...locals, ...f.body.flatMap((part) => (typeof part === "number" ? [part] : [...part])), 0x0b]
    return [...uleb(body.length), ...body]
  })
  const exports = [
    [...name("memory"), 0x02, 0],
    ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])
  ]
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, vector([[0x00, ...uleb(pages)]])),
    ...section(7, vector(exports)),
    ...section(10, vector(code))
  ])
}
