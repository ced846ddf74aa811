/**
 * Thermal false colour for reports: a frame mapped through a palette to an RGB PNG. The
 * `inferno` palette interpolates nine anchor colours of matplotlib's perceptually
 * uniform inferno map (black, purple, red, orange, pale yellow); `gray` is linear.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import { type Frame, range } from "./Image.ts"
import { ImageFileError } from "./ImageFile.ts"
import { encodePng, type PngImage } from "./Png.ts"

export type Palette = "inferno" | "gray"

const anchors: Record<Palette, ReadonlyArray<readonly [number, number, number]>> = {
  inferno: [
    [0, 0, 4],
    [27, 12, 65],
    [74, 12, 107],
    [120, 28, 109],
    [165, 44, 96],
    [207, 68, 70],
    [237, 105, 37],
    [251, 155, 6],
    [252, 255, 164]
  ],
  gray: [[0, 0, 0], [255, 255, 255]]
}

/** The palette's colour at t in [0, 1] (clamped). */
export const colourAt = (palette: Palette, t: number): readonly [number, number, number] => {
  const stops = anchors[palette]
  const x = Math.min(1, Math.max(0, Number.isNaN(t) ? 0 : t)) * (stops.length - 1)
  const i = Math.min(stops.length - 2, Math.floor(x))
  const f = x - i
  const a = stops[i]!, b = stops[i + 1]!
  return [0, 1, 2].map((c) => Math.round(a[c]! + f * (b[c]! - a[c]!))) as unknown as readonly [number, number, number]
}

export interface FalseColourOptions {
  readonly palette?: Palette
  /** Value shown as the palette's start; the frame's minimum by default. */
  readonly lo?: number
  /** Value shown as the palette's end; the frame's maximum by default. */
  readonly hi?: number
}

export const falseColour = (image: Frame, options: FalseColourOptions = {}): PngImage => {
  const palette = options.palette ?? "inferno"
  const extent = options.lo === undefined || options.hi === undefined ? range(image.data) : undefined
  const lo = options.lo ?? extent!.min
  const hi = options.hi ?? extent!.max
  const span = hi > lo ? hi - lo : 1
  const table = Array.from({ length: 256 }, (_, i) => colourAt(palette, i / 255))
  const data = new Uint8Array(image.height * image.width * 3)
  for (let p = 0; p < image.height * image.width; p++) {
    const level = Math.round(Math.min(1, Math.max(0, (image.data[p]! - lo) / span)) * 255)
    const colour = table[Number.isNaN(level) ? 0 : level]!
    data[3 * p] = colour[0]
    data[3 * p + 1] = colour[1]
    data[3 * p + 2] = colour[2]
  }
  return { width: image.width, height: image.height, channels: 3, data }
}

export const writeFalseColourPng = (file: string, image: Frame, options: FalseColourOptions = {}): Effect.Effect<void, ImageFileError> =>
  Effect.try({
    try: () => fs.writeFileSync(file, encodePng(falseColour(image, options))),
    catch: (error) => new ImageFileError({ file, problem: `cannot write: ${(error as Error).message}` })
  })
