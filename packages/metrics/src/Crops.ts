/**
 * Fixed validation crops for the report (`autoresearch report`): the same few regions of
 * the validation images, rendered in thermal false colour with one value range for every
 * panel, each with an absolute-error map against the target. The scorer writes them into
 * the research run's trusted state folder, never into a run directory:
 *
 * - `<stateDir>/images/common-<key>/`: what depends on the data only, written once per
 *   data fingerprint (`key`): `meta.json`, and per crop `i` the panels
 *   `crop<i>-<panel>.png` with `crop<i>-<panel>-error.png` (`input`, `bicubic`,
 *   `ref-<name>` for a reference) and the target `crop<i>-target.png`.
 * - `<stateDir>/images/<id>/`: an experiment's own prediction crops, for its main trial
 *   only: `meta.json` (the common folder it belongs to and its PSNR per crop),
 *   `crop<i>.png` and `crop<i>-error.png`.
 *
 * Each file is written to a temporary name and renamed; `meta.json` last, so a reader
 * that finds it finds the PNGs it describes.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { falseColour } from "./FalseColour.ts"
import { frame, type Frame, type Stack } from "./Image.ts"
import { encodePng } from "./Png.ts"
import { mse, psnrFromMse } from "./Psnr.ts"
import { resize } from "./Resize.ts"

/** The layout's version, in every `meta.json`. */
export const layoutVersion = 1
/** The folder under the state folder. */
export const imagesFolder = "images"
/** The side of a crop in target pixels, unless the images are smaller. */
export const defaultCropSize = 48
/** Error maps show |panel - target| from 0 to this fraction of the data range. */
export const errorFraction = 0.1

/** One crop: the image's index in the stack, its top-left corner and side, in target pixels. */
export interface CropSpec {
  readonly index: number
  readonly y: number
  readonly x: number
  readonly size: number
}

/** The fractional part of golden-ratio steps: positions that spread out for any number of crops. */
const spread = (i: number, step: number) => (0.5 + i * step) % 1

/**
 * `crops` regions of `size` (smaller if the images are) from a stack's shape alone, so the
 * same on every call: images spread over the stack, positions spread over each image,
 * corners and side multiples of `scale` so that each crop matches whole input pixels.
 */
export const cropPlan = (
  shape: { readonly count: number; readonly height: number; readonly width: number },
  crops: number,
  options: { readonly scale?: number; readonly size?: number } = {}
): Array<CropSpec> => {
  const scale = options.scale ?? 1
  const size = Math.floor(Math.min(options.size ?? defaultCropSize, shape.height, shape.width) / scale) * scale
  if (!(crops >= 1) || shape.count < 1 || size < 1) return []
  const n = Math.floor(crops)
  const align = (v: number) => Math.floor(v / scale) * scale
  return Array.from({ length: n }, (_, i) => ({
    index: Math.min(shape.count - 1, Math.floor(((2 * i + 1) * shape.count) / (2 * n))),
    y: align(Math.floor((shape.height - size) * spread(i, 0.381966))),
    x: align(Math.floor((shape.width - size) * spread(i, 0.618034))),
    size
  }))
}

/** The crop of a frame (a copy, float32). */
export const cropFrame = (image: Frame, y: number, x: number, size: number): Frame => {
  const data = new Float32Array(size * size)
  for (let row = 0; row < size; row++) {
    const from = (y + row) * image.width + x
    data.set(image.data.subarray(from, from + size), row * size)
  }
  return { height: size, width: size, data }
}

/** A frame enlarged `factor` times by repeating pixels, to show an input at the target's size. */
export const nearestUp = (image: Frame, factor: number): Frame => {
  const height = image.height * factor, width = image.width * factor
  const data = new Float32Array(height * width)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data[y * width + x] = image.data[Math.floor(y / factor) * image.width + Math.floor(x / factor)]!
  }
  return { height, width, data }
}

const clamped = (image: Frame, hi: number): Frame => {
  const data = new Float32Array(image.data.length)
  for (let i = 0; i < data.length; i++) {
    const v = image.data[i]!
    data[i] = v > hi ? hi : v > 0 ? v : 0
  }
  return { height: image.height, width: image.width, data }
}

const absoluteError = (image: Frame, target: Frame): Frame => {
  const data = new Float32Array(image.data.length)
  for (let i = 0; i < data.length; i++) data[i] = Math.abs(image.data[i]! - target.data[i]!)
  return { height: image.height, width: image.width, data }
}

/** A value for the page: three significant digits. */
const shown = (value: number) => String(Number(value.toPrecision(3)))

/** PSNR of a crop against the target's, capped like `val_psnr` (JSON has no infinity). */
const cropPsnr = (image: Frame, target: Frame, dataRange: number, cap: number) => {
  const value = psnrFromMse(mse(image, target), dataRange)
  return Number.isFinite(value) ? Math.min(value, cap) : cap
}

/** Writes through a temporary file and a rename: a reader sees the old file or the new one. */
const writeAtomic = (file: string, data: Uint8Array | string) => {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    // Whatever stands at the temporary path is removed, not opened.
    fs.rmSync(temporary, { force: true })
    fs.writeFileSync(temporary, data, { flag: "wx" })
    fs.renameSync(temporary, file)
  } catch (error) {
    fs.rmSync(temporary, { force: true })
    throw error
  }
}

/** A directory made if missing; one that is anything else (a file, a link) fails. */
const ensureDir = (dir: string) => {
  fs.mkdirSync(dir, { recursive: true })
  if (!fs.lstatSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`)
}

export interface CropSources {
  /** The targets, as the scorer read them. */
  readonly target: Stack
  /** The low-resolution inputs, when the task has them, and their factor to the targets. */
  readonly low?: { readonly stack: Stack; readonly scale: number } | undefined
  /** Trusted reference predictions by name, the targets' shape. */
  readonly references?: ReadonlyArray<{ readonly name: string; readonly stack: Stack }>
  /** A key of the data (targets, inputs, references), for the common folder's name. */
  readonly dataKey: string
}

export interface CropOptions {
  readonly crops: number
  readonly size?: number
  readonly dataRange: number
  /** The input panel's name; `LR input` by default. */
  readonly inputLabel?: string
  /** The most a crop's PSNR is reported as. */
  readonly maxPsnrDb: number
}

/** The common folder's name for these sources and options. */
export const commonName = (sources: CropSources, options: CropOptions) =>
  "common-" + createHash("sha256").update(sources.dataKey).update(JSON.stringify({
    version: layoutVersion,
    crops: options.crops,
    size: options.size ?? defaultCropSize,
    dataRange: options.dataRange,
    inputLabel: options.inputLabel ?? "LR input",
    errorFraction
  })).digest("hex").slice(0, 16)

/** The value range every panel shares: the targets' crops' extent (never empty). */
const sharedRange = (targets: ReadonlyArray<Frame>, dataRange: number) => {
  let lo = Infinity, hi = -Infinity
  for (const image of targets) {
    for (let i = 0; i < image.data.length; i++) {
      const v = image.data[i]!
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: dataRange }
  return hi > lo ? { lo, hi } : { lo: Math.max(0, lo - dataRange / 100), hi: hi + dataRange / 100 }
}

/**
 * Writes the crops of `prediction` (already clamped to [0, dataRange]) for the experiment
 * `label`, and the common crops when their folder lacks `meta.json`. Throws on a failed
 * write; the scorer ignores that.
 */
export const writeCrops = (stateDir: string, label: string, prediction: Stack, sources: CropSources, options: CropOptions): void => {
  const { target, low } = sources
  const plan = cropPlan(target, options.crops, { ...(low === undefined ? {} : { scale: low.scale }), ...(options.size === undefined ? {} : { size: options.size }) })
  if (plan.length === 0) return
  const root = path.join(stateDir, imagesFolder)
  const common = commonName(sources, options)
  const targets = plan.map((c) => cropFrame(frame(target, c.index), c.y, c.x, c.size))
  const { lo, hi } = sharedRange(targets, options.dataRange)
  const errorMax = errorFraction * options.dataRange
  const png = (image: Frame) => encodePng(falseColour(image, { palette: "inferno", lo, hi }))
  const errorPng = (image: Frame, against: Frame) => encodePng(falseColour(absoluteError(image, against), { palette: "gray", lo: 0, hi: errorMax }))

  ensureDir(root)
  const commonDir = path.join(root, common)
  if (!fs.existsSync(path.join(commonDir, "meta.json"))) {
    ensureDir(commonDir)
    const panels: Array<{ key: string; name: string; psnr: Array<number> }> = []
    const add = (key: string, name: string, crops: ReadonlyArray<Frame>) => {
      const psnr: Array<number> = []
      crops.forEach((image, i) => {
        writeAtomic(path.join(commonDir, `crop${i}-${key}.png`), png(image))
        writeAtomic(path.join(commonDir, `crop${i}-${key}-error.png`), errorPng(image, targets[i]!))
        psnr.push(cropPsnr(image, targets[i]!, options.dataRange, options.maxPsnrDb))
      })
      panels.push({ key, name, psnr })
    }
    if (low !== undefined) {
      const s = low.scale
      add("input", options.inputLabel ?? "LR input", plan.map((c) => nearestUp(cropFrame(frame(low.stack, c.index), c.y / s, c.x / s, c.size / s), s)))
      add("bicubic", "bicubic", plan.map((c) => {
        const upscaled = resize(frame(low.stack, c.index), target.height, target.width)
        return cropFrame(clamped(upscaled, options.dataRange), c.y, c.x, c.size)
      }))
    }
    for (const reference of sources.references ?? []) {
      add(`ref-${reference.name}`, reference.name, plan.map((c) => clamped(cropFrame(frame(reference.stack, c.index), c.y, c.x, c.size), options.dataRange)))
    }
    targets.forEach((image, i) => writeAtomic(path.join(commonDir, `crop${i}-target.png`), png(image)))
    writeAtomic(path.join(commonDir, "meta.json"), JSON.stringify({
      version: layoutVersion,
      title: `validation crops${low === undefined ? "" : `, x${low.scale}`}`,
      range: `value range ${shown(lo)} to ${shown(hi)} in every panel; error 0 to ${shown(errorMax)}`,
      crops: plan.map((c) => ({ ...c, name: `image ${c.index}, crop at (${c.x}, ${c.y}), ${c.size} px` })),
      panels,
      target: "HR target"
    }))
  }

  const ownDir = path.join(root, label)
  ensureDir(ownDir)
  const psnr = plan.map((c, i) => {
    const image = cropFrame(frame(prediction, c.index), c.y, c.x, c.size)
    writeAtomic(path.join(ownDir, `crop${i}.png`), png(image))
    writeAtomic(path.join(ownDir, `crop${i}-error.png`), errorPng(image, targets[i]!))
    return cropPsnr(image, targets[i]!, options.dataRange, options.maxPsnrDb)
  })
  writeAtomic(path.join(ownDir, "meta.json"), JSON.stringify({ version: layoutVersion, common, psnr }))
}
