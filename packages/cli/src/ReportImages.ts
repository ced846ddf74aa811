/**
 * The report's image panels of one experiment, from the crops the PSNR-gated scorer wrote
 * into the state folder (`<stateDir>/images`, see @autoresearch/metrics' Crops.ts):
 * the experiment's own `<id>/`, the data's `common-<key>/` it names (input, bicubic,
 * references, target), and experiment 0's crops as the baseline model. Every file is read
 * as a regular file only (no link, no FIFO), bounded, and its name is built here, never
 * taken from a file. PNGs become data: URIs.
 */
import { lstat, readRegularBytes, readRegularFile } from "@autoresearch/core"
import { Schema } from "effect"
import * as path from "node:path"

export interface ReportImagePanel {
  readonly name: string
  /** `data:image/png;base64,...` */
  readonly image: string
  /** The absolute-error map against the target, the same kind of URI. */
  readonly error?: string
  readonly psnr?: number
}

export interface ReportImages {
  readonly title: string
  readonly range: string
  readonly crops: ReadonlyArray<{
    readonly name: string
    readonly panels: ReadonlyArray<ReportImagePanel>
  }>
}

/** The largest PNG read. */
export const maxPngBytes = 2 * 1024 * 1024
/** The largest meta.json read. */
const maxMetaBytes = 64 * 1024
/** The most crops shown. */
const maxCrops = 16
const layoutVersion = 1

const Text = Schema.String.check(Schema.isMaxLength(200))
const Psnr = Schema.Array(Schema.Finite)

const CommonMeta = Schema.Struct({
  version: Schema.Literal(layoutVersion),
  title: Text,
  range: Text,
  crops: Schema.Array(Schema.Struct({ name: Text })),
  panels: Schema.Array(Schema.Struct({ key: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,64}$/)), name: Text, psnr: Schema.optional(Psnr) })),
  target: Text
})
type CommonMeta = typeof CommonMeta.Type

const OwnMeta = Schema.Struct({
  version: Schema.Literal(layoutVersion),
  common: Schema.String.check(Schema.isPattern(/^common-[0-9a-f]{8,64}$/)),
  psnr: Schema.optional(Psnr)
})
type OwnMeta = typeof OwnMeta.Type

const decodeCommon = Schema.decodeUnknownOption(Schema.fromJsonString(CommonMeta))
const decodeOwn = Schema.decodeUnknownOption(Schema.fromJsonString(OwnMeta))

const readMeta = <A>(file: string, decode: (text: string) => { readonly _tag: "Some"; readonly value: A } | { readonly _tag: "None" }): A | undefined => {
  const read = readRegularFile(file, maxMetaBytes)
  if (read._tag !== "Text" || read.truncated) return undefined
  const decoded = decode(read.text)
  return decoded._tag === "Some" ? decoded.value : undefined
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

/** A PNG file as a data: URI; undefined when missing, refused, too large or not a PNG. */
const pngUri = (file: string): string | undefined => {
  const read = readRegularBytes(file, maxPngBytes)
  if (read._tag !== "Bytes" || read.truncated || read.bytes.length < 8) return undefined
  if (PNG_SIGNATURE.some((byte, i) => read.bytes[i] !== byte)) return undefined
  return `data:image/png;base64,${Buffer.from(read.bytes).toString("base64")}`
}

/** A folder that is a folder, not a link to one. */
const isFolder = (dir: string) => lstat(dir)?.isDirectory() === true

/** An experiment's own crops, with the common folder they belong to; undefined when there are none. */
const ownCrops = (imagesRoot: string, id: number) => {
  const dir = path.join(imagesRoot, String(id))
  if (!isFolder(dir)) return undefined
  const meta = readMeta<OwnMeta>(path.join(dir, "meta.json"), decodeOwn)
  return meta === undefined ? undefined : { dir, meta }
}

/**
 * The image panels of experiment `id`, from `imagesRoot` (`<stateDir>/images`); undefined
 * when it has no crops, or they cannot be read. A panel whose files are missing is left out.
 */
export const readImages = (imagesRoot: string, id: number): ReportImages | undefined => {
  if (!Number.isSafeInteger(id) || id < 0) return undefined
  const own = ownCrops(imagesRoot, id)
  if (own === undefined) return undefined
  const commonDir = path.join(imagesRoot, own.meta.common)
  const common: CommonMeta | undefined = isFolder(commonDir) ? readMeta<CommonMeta>(path.join(commonDir, "meta.json"), decodeCommon) : undefined
  if (common === undefined) return undefined
  // The baseline model's crops, when they were made from the same data.
  const baseline = id === 0 ? undefined : ownCrops(imagesRoot, 0)
  const sameData = baseline !== undefined && baseline.meta.common === own.meta.common ? baseline : undefined

  const crops = common.crops.slice(0, maxCrops).flatMap((crop, i) => {
    const panels: Array<ReportImagePanel> = []
    const add = (name: string, dir: string, stem: string, psnr: ReadonlyArray<number> | undefined, withError: boolean) => {
      const image = pngUri(path.join(dir, `${stem}.png`))
      if (image === undefined) return
      const error = withError ? pngUri(path.join(dir, `${stem}-error.png`)) : undefined
      const value = psnr?.[i]
      panels.push({ name, image, ...(error === undefined ? {} : { error }), ...(value === undefined ? {} : { psnr: value }) })
    }
    for (const panel of common.panels) add(panel.name, commonDir, `crop${i}-${panel.key}`, panel.psnr, true)
    add(id === 0 ? "this experiment (#0, the baseline)" : `this experiment (#${id})`, own.dir, `crop${i}`, own.meta.psnr, true)
    if (sameData !== undefined) add("baseline model (#0)", sameData.dir, `crop${i}`, sameData.meta.psnr, true)
    add(common.target, commonDir, `crop${i}-target`, undefined, false)
    return panels.length === 0 ? [] : [{ name: crop.name, panels }]
  })
  return crops.length === 0 ? undefined : { title: common.title, range: common.range, crops }
}
