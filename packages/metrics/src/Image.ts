/**
 * The pixel model every metric works on: a stack of equally sized grayscale frames,
 * row-major, one frame after another. A single image is a stack of one. Values are
 * floats; by convention [0, 1] once loaded (see `ImageFile`).
 */
// effect/Data rather than Schema: worker threads import this module, and Schema takes them ~0.2 s to load.
import * as Data from "effect/Data"

export type Pixels = Float32Array | Float64Array

/** The sample types the file decoders hand back, before conversion to [0, 1]. */
export type Dtype = "uint8" | "uint16" | "float32" | "float64"
export type Samples = Uint8Array | Uint16Array | Float32Array | Float64Array

/** Decoded samples as stored: shape [height, width] or [count, height, width]. */
export interface Raw {
  readonly dtype: Dtype
  readonly shape: ReadonlyArray<number>
  readonly data: Samples
}

/** Largest value of an integer sample type: what 1.0 maps to. */
export const integerMax = { uint8: 255, uint16: 65535 } as const

export interface Stack {
  readonly count: number
  readonly height: number
  readonly width: number
  readonly data: Pixels
}

/**
 * Samples as a stack of floats: integers divided by their type's maximum (so 8- and
 * 16-bit images land in [0, 1]); floats kept as they are. `shape` must have 2 or 3 axes.
 */
export const fromRaw = (raw: Raw): Stack => {
  const [count, height, width] = raw.shape.length === 2 ? [1, raw.shape[0]!, raw.shape[1]!] : raw.shape as [number, number, number]
  if (raw.dtype === "float32" || raw.dtype === "float64") return stack(count, height, width, raw.data as Pixels)
  const scale = 1 / integerMax[raw.dtype]
  const data = new Float32Array(raw.data.length)
  for (let i = 0; i < data.length; i++) data[i] = raw.data[i]! * scale
  return stack(count, height, width, data)
}

/** One frame: a stack of one, viewed rather than copied. */
export interface Frame {
  readonly height: number
  readonly width: number
  readonly data: Pixels
}

/** Two stacks (or frames) that should have had the same shape but did not. */
export class ShapeMismatch extends Data.TaggedError("ShapeMismatch")<{
  readonly expected: string
  readonly actual: string
}> {
  override get message() {
    return `shape mismatch: expected ${this.expected}, got ${this.actual}`
  }
}

/** A size a computation cannot work with (e.g. an SSIM window larger than the image). */
export class TooSmall extends Data.TaggedError("TooSmall")<{
  readonly what: string
  readonly height: number
  readonly width: number
  readonly minimum: number
}> {
  override get message() {
    return `${this.what} needs images of at least ${this.minimum}x${this.minimum}, got ${this.height}x${this.width}`
  }
}

export const describeShape = (shape: { readonly count?: number; readonly height: number; readonly width: number }) =>
  shape.count === undefined ? `${shape.height}x${shape.width}` : `${shape.count}x${shape.height}x${shape.width}`

export const stack = (count: number, height: number, width: number, data: Pixels = new Float32Array(count * height * width)): Stack => {
  if (data.length !== count * height * width) {
    throw new ShapeMismatch({ expected: `${count * height * width} values (${count}x${height}x${width})`, actual: `${data.length}` })
  }
  return { count, height, width, data }
}

export const frame = (source: Stack, index: number): Frame => {
  const size = source.height * source.width
  return { height: source.height, width: source.width, data: source.data.subarray(index * size, (index + 1) * size) }
}

export const frames = (source: Stack): Array<Frame> => Array.from({ length: source.count }, (_, i) => frame(source, i))

export const sameShape = (a: Stack, b: Stack): boolean =>
  a.count === b.count && a.height === b.height && a.width === b.width

export const assertSameShape = (expected: Stack, actual: Stack): void => {
  if (!sameShape(expected, actual)) {
    throw new ShapeMismatch({ expected: describeShape(expected), actual: describeShape(actual) })
  }
}

/** The frame without a border of `border` pixels on every side (a copy). */
export const shave = (image: Frame, border: number): Frame => {
  if (border <= 0) return image
  const height = image.height - 2 * border
  const width = image.width - 2 * border
  if (height <= 0 || width <= 0) {
    throw new TooSmall({ what: `a border shave of ${border}`, height: image.height, width: image.width, minimum: 2 * border + 1 })
  }
  const data = new Float64Array(height * width)
  for (let y = 0; y < height; y++) {
    const from = (y + border) * image.width + border
    data.set(image.data.subarray(from, from + width), y * width)
  }
  return { height, width, data }
}

/** Index of the first NaN or infinity, or -1. */
export const firstNonFinite = (data: Pixels): number => {
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!
    // Finite values satisfy v - v === 0; NaN and ±Infinity do not.
    if (value - value !== 0) return i
  }
  return -1
}

export const countNonFinite = (data: Pixels): number => {
  let count = 0
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!
    if (value - value !== 0) count++
  }
  return count
}

/** A copy clamped to [lo, hi]. */
export const clamp = (source: Stack, lo = 0, hi = 1): Stack => {
  const data = new Float32Array(source.data.length)
  for (let i = 0; i < data.length; i++) {
    const value = source.data[i]!
    data[i] = value < lo ? lo : value > hi ? hi : value
  }
  return { ...source, data }
}

/** Smallest and largest value. */
export const range = (data: ArrayLike<number>): { readonly min: number; readonly max: number } => {
  let min = Infinity
  let max = -Infinity
  for (let i = 0; i < data.length; i++) {
    const value = data[i]!
    if (value < min) min = value
    if (value > max) max = value
  }
  return { min, max }
}
