/**
 * The SSIM kernel as WebAssembly SIMD, two pixels per instruction (f64x2), generated at
 * run time for the window in hand (its weights and constants baked in). Same passes as
 * the JavaScript kernel in `Ssim`: per image row, the products x^2 + y^2 and xy, four
 * horizontal window sums into a ring of rows, then per output row the vertical sums and
 * the SSIM formula. About twice the speed of the JavaScript kernel; used when available.
 */
import type { Pixels } from "./Image.ts"
import { encodeModule, I, type ValueType, type WasmFunction } from "./Wasm.ts"

export interface SsimConstants {
  readonly c1: number
  readonly c2: number
  readonly covNorm: number
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** products(x, y, sq, xy, n): sq = x*x + y*y and xy = x*y for n values (rounded up to a pair). */
const products: WasmFunction = {
  name: "products",
  params: ["i32", "i32", "i32", "i32", "i32"],
  results: [],
  locals: ["i32", "v128", "v128"],
  body: [
    I.loop,
    I.get(0), I.get(5), I.i32Add, I.load(), I.set(6),
    I.get(1), I.get(5), I.i32Add, I.load(), I.set(7),
    I.get(2), I.get(5), I.i32Add, I.get(6), I.get(6), I.mul, I.get(7), I.get(7), I.mul, I.add, I.store(),
    I.get(3), I.get(5), I.i32Add, I.get(6), I.get(7), I.mul, I.store(),
    I.get(5), I.i32(16), I.i32Add, I.tee(5), I.get(4), I.i32(8), I.i32Mul, I.i32LtS, I.brIf(0),
    I.end
  ]
}

/** Splats of the first half of the (symmetric) weights into v128 locals from `first` on. */
const weightSplats = (weights: Float64Array, first: number) =>
  range((weights.length + 1) / 2).flatMap((k) => [I.f64(weights[k]!), I.splat, I.set(first + k)])

/** Sum over the window of values at `address(k)`, folded on the window's symmetry. */
const windowSum = (size: number, weightLocal: number, load: (k: number) => ReadonlyArray<ReadonlyArray<number>>) => {
  const r = (size - 1) / 2
  return [
    ...load(r), I.get(weightLocal + r), I.mul,
    ...range(r).flatMap((k) => [...load(k), ...load(size - 1 - k), I.add, I.get(weightLocal + k), I.mul, I.add])
  ]
}

/** filter(src, dst, n): dst[j] = sum_k w[k] src[j + k] for n outputs (rounded up to a pair). */
const filter = (weights: Float64Array): WasmFunction => {
  const [p, q, w] = [3, 4, 5]
  return {
    name: "filter",
    params: ["i32", "i32", "i32"],
    results: [],
    locals: ["i32", "i32", ...range((weights.length + 1) / 2).map((): ValueType => "v128")],
    body: [
      ...weightSplats(weights, w),
      I.loop,
      I.get(1), I.get(p), I.i32Add,
      I.get(0), I.get(p), I.i32Add, I.set(q),
      ...windowSum(weights.length, w, (k) => [I.get(q), I.load(8 * k)]),
      I.store(),
      I.get(p), I.i32(16), I.i32Add, I.tee(p), I.get(2), I.i32(8), I.i32Mul, I.i32LtS, I.brIf(0),
      I.end
    ]
  }
}

/**
 * rowSsim(mx, my, sq, xy, stride, i, n): the sum of the SSIM map over output row i, from
 * the ring of horizontal sums (row k of a channel at channel + (k mod size) * stride).
 */
const rowSsim = (weights: Float64Array, k: SsimConstants): WasmFunction => {
  const size = weights.length
  const half = (size + 1) / 2
  // Locals after the 7 parameters: the 4 x size row addresses, then scalars and vectors.
  const base = (channel: number, row: number) => 7 + channel * size + row
  const [p, end, tmp] = [7 + 4 * size, 8 + 4 * size, 9 + 4 * size]
  const w = 10 + 4 * size
  const [c1, c2, cov, twoCov, two, acc, ux, uy, s, xy, t1, t2] = range(12).map((i) => w + half + i)
  const tail = w + half + 12
  const pair = [
    ...[ux, uy, s, xy].flatMap((target, channel) => [
      ...windowSum(size, w, (row) => [I.get(base(channel, row)), I.get(p), I.i32Add, I.load()]),
      I.set(target)
    ]),
    I.get(ux), I.get(uy), I.mul, I.set(t1),
    I.get(ux), I.get(ux), I.mul, I.get(uy), I.get(uy), I.mul, I.add, I.set(t2),
    // (2 ux uy + C1)(2 cov (sxy - ux uy) + C2) / ((ux^2 + uy^2 + C1)(cov (sxx + syy - ux^2 - uy^2) + C2))
    I.get(two), I.get(t1), I.mul, I.get(c1), I.add,
    I.get(twoCov), I.get(xy), I.get(t1), I.sub, I.mul, I.get(c2), I.add,
    I.mul,
    I.get(t2), I.get(c1), I.add,
    I.get(cov), I.get(s), I.get(t2), I.sub, I.mul, I.get(c2), I.add,
    I.mul,
    I.div
  ]
  return {
    name: "rowSsim",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    results: ["f64"],
    locals: [
      ...range(4 * size + 3).map((): ValueType => "i32"),
      ...range(half + 12).map((): ValueType => "v128"),
      "f64"
    ],
    body: [
      ...range(size).flatMap((row) => [
        I.get(5), I.i32(row), I.i32Add, I.i32(size), I.i32RemU, I.get(4), I.i32Mul, I.set(tmp),
        ...range(4).flatMap((channel) => [I.get(channel), I.get(tmp), I.i32Add, I.set(base(channel, row))])
      ]),
      ...weightSplats(weights, w),
      I.f64(k.c1), I.splat, I.set(c1),
      I.f64(k.c2), I.splat, I.set(c2),
      I.f64(k.covNorm), I.splat, I.set(cov),
      I.f64(2 * k.covNorm), I.splat, I.set(twoCov),
      I.f64(2), I.splat, I.set(two),
      // Whole pairs, then the odd last pixel from lane 0 of one more pair.
      I.get(6), I.i32(-2), I.i32And, I.i32(8), I.i32Mul, I.set(end),
      I.block,
      I.get(p), I.get(end), I.i32LtS, I.i32Eqz, I.brIf(0),
      I.loop,
      ...pair, I.get(acc), I.add, I.set(acc),
      I.get(p), I.i32(16), I.i32Add, I.tee(p), I.get(end), I.i32LtS, I.brIf(0),
      I.end,
      I.end,
      I.get(6), I.i32(1), I.i32And,
      I.if,
      ...pair, I.lane(0), I.set(tail),
      I.end,
      I.get(acc), I.lane(0), I.get(acc), I.lane(1), I.f64Add, I.get(tail), I.f64Add
    ]
  }
}

// The WebAssembly global, typed as far as it is used here (the ES2023 lib does not declare it).
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean
  readonly Module: new (bytes: Uint8Array) => object
  readonly Instance: new (module: object) => { readonly exports: object }
}

interface Kernel {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  readonly products: (x: number, y: number, sq: number, xy: number, n: number) => void
  readonly filter: (src: number, dst: number, n: number) => void
  readonly rowSsim: (mx: number, my: number, sq: number, xy: number, stride: number, i: number, n: number) => number
}

const kernels = new Map<string, Kernel | undefined>()

const kernelFor = (weights: Float64Array, constants: SsimConstants): Kernel | undefined => {
  const key = `${[...weights].join(",")}|${constants.c1},${constants.c2},${constants.covNorm}`
  if (kernels.has(key)) return kernels.get(key)
  let kernel: Kernel | undefined
  const bytes = encodeModule([products, filter(weights), rowSsim(weights, constants)], 1)
  if (typeof WebAssembly === "object" && WebAssembly.validate(bytes)) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes))
    kernel = instance.exports as unknown as Kernel
  }
  kernels.set(key, kernel)
  return kernel
}

const align = (bytes: number) => Math.ceil(bytes / 16) * 16

/** Whether this runtime has WebAssembly SIMD (every Node this package supports does). */
export const available = (): boolean => kernelFor(Float64Array.of(1), { c1: 0, c2: 0, covNorm: 1 }) !== undefined

/**
 * The mean of the SSIM map over the positions where the window fits, or undefined when
 * WebAssembly SIMD is missing. `weights` must be symmetric and of odd length.
 */
export const meanSsimSimd = (
  x: Pixels,
  y: Pixels,
  height: number,
  width: number,
  weights: Float64Array,
  constants: SsimConstants
): number | undefined => {
  const kernel = kernelFor(weights, constants)
  if (kernel === undefined) return undefined
  const size = weights.length
  const outH = height - size + 1
  const outW = width - size + 1
  // Layout (bytes): x, y, the two product rows, then the four channels' rings; each
  // padded so that a pair read past the last pixel stays inside the memory.
  const image = align((height * width + 2) * 8)
  const row = align((width + 2) * 8)
  const stride = align((outW + 2) * 8)
  const at = { x: 0, y: image, sq: 2 * image, xy: 2 * image + row, ring: 2 * image + 2 * row }
  const needed = at.ring + 4 * size * stride
  const have = kernel.memory.buffer.byteLength
  if (needed > have) kernel.memory.grow(Math.ceil((needed - have) / 65536))
  const memory = new Float64Array(kernel.memory.buffer)
  memory.set(x.subarray(0, height * width), at.x / 8)
  memory.set(y.subarray(0, height * width), at.y / 8)
  memory.fill(0, (at.x / 8) + height * width, at.y / 8)
  memory.fill(0, (at.y / 8) + height * width, at.sq / 8)
  const channel = (c: number) => at.ring + c * size * stride
  const horizontal = (r: number) => {
    const src = r * width * 8
    const slot = (r % size) * stride
    kernel.products(at.x + src, at.y + src, at.sq, at.xy, width)
    kernel.filter(at.x + src, channel(0) + slot, outW)
    kernel.filter(at.y + src, channel(1) + slot, outW)
    kernel.filter(at.sq, channel(2) + slot, outW)
    kernel.filter(at.xy, channel(3) + slot, outW)
  }
  for (let r = 0; r < size - 1; r++) horizontal(r)
  let total = 0
  for (let i = 0; i < outH; i++) {
    horizontal(i + size - 1)
    total += kernel.rowSsim(channel(0), channel(1), channel(2), channel(3), stride, i, outW)
  }
  return total / (outH * outW)
}
