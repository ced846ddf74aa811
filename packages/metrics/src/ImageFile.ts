/**
 * Images and stacks on disk: `.npy`, PNG and TIFF, told apart by their first bytes, read
 * into a float stack (integers scaled to [0, 1]) after checking shape and finiteness.
 * Every failure is an `ImageFileError` naming the file and the problem.
 */
import { readRegularBytes } from "@autoresearch/core"
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { DecodeError } from "./DecodeError.ts"
import { countNonFinite, type Dtype, firstNonFinite, fromRaw, type Raw, type Stack } from "./Image.ts"
import { decodeNpy, encodeNpy } from "./Npy.ts"
import { decodePng } from "./Png.ts"
import { decodeTiff } from "./Tiff.ts"

export class ImageFileError extends Schema.TaggedError<ImageFileError>()("ImageFileError", {
  file: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `${this.file}: ${this.problem}`
  }
}

export type Format = "npy" | "png" | "tiff"

export interface Loaded {
  readonly file: string
  readonly format: Format
  /** The samples' type in the file, before conversion. */
  readonly dtype: Dtype
  readonly shape: ReadonlyArray<number>
  readonly stack: Stack
  /** The file's bytes, e.g. for a fingerprint. */
  readonly bytes: Uint8Array
}

export interface ReadOptions {
  /** Reject NaN and infinities (the default); a scorer that reports them itself turns this off. */
  readonly finite?: boolean
}

const formatOf = (bytes: Uint8Array, file: string): Format => {
  if (bytes[0] === 0x93 && bytes[1] === 0x4e) return "npy"
  if (bytes[0] === 0x89 && bytes[1] === 0x50) return "png"
  if ((bytes[0] === 0x49 && bytes[1] === 0x49) || (bytes[0] === 0x4d && bytes[1] === 0x4d)) return "tiff"
  throw new ImageFileError({
    file,
    problem: bytes.length === 0 ? "empty file" : "not a .npy, PNG or TIFF file (unrecognised first bytes)"
  })
}

/** Where a flat index falls, for messages: image, row, column. */
export const locate = (index: number, shape: { readonly height: number; readonly width: number }) => {
  const size = shape.height * shape.width
  return {
    image: Math.floor(index / size),
    row: Math.floor((index % size) / shape.width),
    column: index % shape.width
  }
}

/** Decodes bytes read from `file`; throws `ImageFileError`. */
export const decodeImage = (bytes: Uint8Array, file: string, options: ReadOptions = {}): Loaded => {
  const format = formatOf(bytes, file)
  let raw: Raw
  try {
    raw = format === "npy" ? decodeNpy(bytes) : format === "png" ? decodePng(bytes) : decodeTiff(bytes)
  } catch (error) {
    if (error instanceof DecodeError) throw new ImageFileError({ file, problem: error.problem })
    throw error
  }
  if (raw.shape.length !== 2 && raw.shape.length !== 3) {
    throw new ImageFileError({ file, problem: `shape (${raw.shape.join(", ")}): expected HxW or NxHxW` })
  }
  if (raw.shape.some((n) => n === 0)) {
    throw new ImageFileError({ file, problem: `shape (${raw.shape.join(", ")}) holds no pixels` })
  }
  const stack = fromRaw(raw)
  if (options.finite !== false && (raw.dtype === "float32" || raw.dtype === "float64")) {
    const first = firstNonFinite(stack.data)
    if (first >= 0) {
      const at = locate(first, stack)
      throw new ImageFileError({
        file,
        problem: `${countNonFinite(stack.data)} non-finite values (NaN or infinity), the first at image ${at.image}, row ${at.row}, column ${at.column}`
      })
    }
  }
  return { file, format, dtype: raw.dtype, shape: raw.shape, stack, bytes }
}

const readRegular = (file: string, options: ReadOptions, follow: boolean): Loaded => {
  const read = readRegularBytes(file, Number.POSITIVE_INFINITY, { follow })
  if (read._tag === "Missing") throw new ImageFileError({ file, problem: "no such file" })
  if (read._tag === "Refused") throw new ImageFileError({ file, problem: read.problem })
  return decodeImage(read.bytes, file, options)
}

/**
 * Reads and decodes a file whose path the user or the harness chose (the data cache, a
 * target); throws `ImageFileError`. A symbolic link is followed, but what it names must
 * be a regular file: a FIFO planted in the cache is refused, not waited on for ever.
 */
export const readImageSync = (file: string, options: ReadOptions = {}): Loaded => readRegular(file, options, true)

/**
 * Reads and decodes a file an experiment wrote (its predictions): anything but a regular
 * file (a symbolic link to the targets, a FIFO) is refused, not followed or waited on.
 */
export const readUntrustedImage = (file: string, options: ReadOptions = {}): Effect.Effect<Loaded, ImageFileError> =>
  Effect.try({
    try: () => readRegular(file, options, false),
    catch: (error) => error instanceof ImageFileError ? error : new ImageFileError({ file, problem: String(error) })
  })

export const readImage = (file: string, options: ReadOptions = {}): Effect.Effect<Loaded, ImageFileError> =>
  Effect.try({
    try: () => readImageSync(file, options),
    catch: (error) => error instanceof ImageFileError ? error : new ImageFileError({ file, problem: String(error) })
  })

/** Writes a stack as float32 `.npy` (shape NxHxW, or HxW when `squeeze` and there is one image). */
export const writeNpy = (file: string, stack: Stack, options: { readonly squeeze?: boolean } = {}): Effect.Effect<void, ImageFileError> =>
  Effect.try({
    try: () => {
      const data = stack.data instanceof Float32Array ? stack.data : Float32Array.from(stack.data)
      const shape = options.squeeze === true && stack.count === 1 ? [stack.height, stack.width] : [stack.count, stack.height, stack.width]
      fs.writeFileSync(file, encodeNpy({ dtype: "float32", shape, data }))
    },
    catch: (error) => new ImageFileError({ file, problem: `cannot write: ${(error as Error).message}` })
  })
