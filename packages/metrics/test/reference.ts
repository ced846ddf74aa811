/**
 * The committed reference fixtures (made by fixtures/make_fixtures.py from scikit-image,
 * PIL and numpy), loaded for the tests; no Python runs at test time.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Stack } from "../src/Image.ts"
import { readImageSync } from "../src/ImageFile.ts"

export const fixturesDir = path.join(import.meta.dirname, "fixtures")
export const fixture = (name: string) => path.join(fixturesDir, name)
export const loadStack = (name: string): Stack => readImageSync(fixture(name)).stack

/** A number, or `"Infinity"` where JSON cannot hold one. */
type Num = number | "Infinity"
export const num = (value: Num): number => (value === "Infinity" ? Infinity : value)

export interface MetricsCase {
  readonly psnr: ReadonlyArray<Num>
  readonly psnrShave2: ReadonlyArray<Num>
  readonly ssimWang: ReadonlyArray<number>
  readonly ssimScikitDefaults: ReadonlyArray<number>
  readonly ssimGaussianSample: ReadonlyArray<number>
  readonly ssimWangShave2: ReadonlyArray<number> | null
  readonly gradientEnergy: ReadonlyArray<readonly [number, number]>
  readonly laplacianVariance: ReadonlyArray<readonly [number, number]>
  readonly highFrequencyEnergy2: ReadonlyArray<readonly [number, number]>
  readonly highFrequencyEnergy3: ReadonlyArray<readonly [number, number]>
}

export interface RealFile {
  readonly shape: ReadonlyArray<number>
  readonly sha256: string
  readonly min: number
  readonly max: number
}

export interface Reference {
  readonly generator: Readonly<Record<string, string>>
  readonly metrics: Readonly<Record<string, MetricsCase>>
  readonly resize: ReadonlyArray<{ readonly name: string; readonly height: number; readonly width: number }>
  readonly real: {
    readonly present: boolean
    readonly files: Readonly<Record<string, RealFile>>
    readonly roundTrip?: { readonly file: string; readonly crop: readonly [number, number, number, number]; readonly psnr: number; readonly ssim: number }
  }
}

export const reference = JSON.parse(fs.readFileSync(fixture("reference.json"), "utf8")) as Reference

/** |a - b| / |b|, 0 when both are the same infinity. */
export const relativeError = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.abs(b))

/** Where the real LWIR images live (outside the repository); absent on most machines. */
export const realDataDir = path.resolve(import.meta.dirname, "..", "..", "..", "..", "shared", "data", "lwir-real")
export const realDataPresent = fs.existsSync(realDataDir)
