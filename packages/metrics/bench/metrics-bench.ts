/**
 * Benchmark: PSNR + SSIM (Wang et al. 2004) on 500 images of 256x256, on one thread and
 * on worker threads, timed against scikit-image on the same images in the same run
 * (Debian's /usr/bin/python3 with python3-skimage; skipped, saying so, when missing).
 * Also times a scorer-sized evaluation (40 frames of 512x512 at x4 with diagnostics) and
 * the SSIM passes within it, as shares of a 600 s experiment. With the real LWIR images
 * present (../shared/data/lwir-real), also decodes them and prints the bicubic baselines
 * at x2 and x4.
 *
 *     node packages/metrics/bench/metrics-bench.ts [--images 500] [--size 256] [--repetitions 5]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { bicubicBaseline } from "../src/Baseline.ts"
import { evaluate, type Evaluation } from "../src/Evaluation.ts"
import { frames as framesOf, range, stack, type Stack } from "../src/Image.ts"
import { readImageSync, writeNpy } from "../src/ImageFile.ts"
import { evaluateParallel } from "../src/Parallel.ts"
import { resizeStack } from "../src/Resize.ts"
import { prepare, ssimPrepared } from "../src/Ssim.ts"
import { Effect } from "effect"

const argument = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at > 0 ? Number(process.argv[at + 1]) : fallback
}
const count = argument("images", 500)
const size = argument("size", 256)
const python = "/usr/bin/python3"
const realDir = path.resolve(import.meta.dirname, "..", "..", "..", "..", "shared", "data", "lwir-real")

/** Thermal-looking frames: smooth blobs and gradients, with a noisy, slightly blurred "prediction". */
const synthetic = (n: number, side: number): { prediction: Stack; target: Stack } => {
  let seed = 12345
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const target = stack(n, side, side)
  const prediction = stack(n, side, side)
  const gx = new Float64Array(side)
  const gy = new Float64Array(side)
  const clean = new Float64Array(side * side)
  for (let i = 0; i < n; i++) {
    const tilt = random() * 0.3
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) clean[y * side + x] = 0.2 + (tilt * x) / side
    for (let blob = 0; blob < 6; blob++) {
      // A Gaussian blob is separable: exp(-(dx^2 + dy^2) / 2r^2) = gx[x] gy[y].
      const [bx, by, r, heat] = [random() * side, random() * side, 5 + (random() * side) / 4, random() * 0.5]
      for (let t = 0; t < side; t++) {
        gx[t] = heat * Math.exp(-((t - bx) ** 2) / (2 * r * r))
        gy[t] = Math.exp(-((t - by) ** 2) / (2 * r * r))
      }
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) clean[y * side + x]! += gx[x]! * gy[y]!
    }
    for (let p = 0; p < side * side; p++) {
      const v = clean[p]!
      target.data[i * side * side + p] = Math.min(1, v + 0.01 * (random() - 0.5))
      prediction.data[i * side * side + p] = Math.min(1, Math.max(0, v + 0.03 * (random() - 0.5)))
    }
  }
  return { prediction, target }
}

const concatenate = (frames: ReadonlyArray<Stack>): Stack => {
  const out = stack(frames.length, frames[0]!.height, frames[0]!.width)
  frames.forEach((frame, i) => out.data.set(frame.data, i * frame.height * frame.width))
  return out
}

const seconds = <A>(run: () => A): [A, number] => {
  const t0 = performance.now()
  const result = run()
  return [result, (performance.now() - t0) / 1000]
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The SSIM passes alone, as `evaluatePair` runs them (on the shaved images). */
const ssimOnly = (prediction: Stack, target: Stack, border: number): number => {
  const prepared = prepare({ dataRange: 1, shave: border })
  const targets = framesOf(target)
  return framesOf(prediction).reduce((sum, image, i) => sum + ssimPrepared(image, targets[i]!, prepared), 0)
}

/** A typical experiment's length, to put the scorer's cost in proportion. */
const experimentSeconds = 600

const skimageScript = `
import json, sys, time
import numpy as np
from skimage.metrics import peak_signal_noise_ratio as psnr, structural_similarity as ssim
p = np.load(sys.argv[1]); t = np.load(sys.argv[2])
def run():
    ps, ss = [], []
    for a, b in zip(p, t):
        ps.append(psnr(b, a, data_range=1.0))
        ss.append(ssim(b, a, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
    return ps, ss
run_small = [ssim(t[0], p[0], data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)]
t0 = time.perf_counter(); ps, ss = run(); dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}))
`

const main = async () => {
  console.log(`metrics bench: ${count} images of ${size}x${size}, PSNR + SSIM (Gaussian 11x11, sigma 1.5)`)
  console.log(`node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "unknown CPU"})`)
  const { prediction, target } = synthetic(count, size)
  evaluate(stack(4, size, size, prediction.data.subarray(0, 4 * size * size)), stack(4, size, size, target.data.subarray(0, 4 * size * size)), { diagnostics: false })
  const [one, oneSeconds] = seconds(() => evaluate(prediction, target, { diagnostics: false }))
  console.log(`ours, 1 thread:   ${oneSeconds.toFixed(3)} s  (${((oneSeconds / count) * 1000).toFixed(2)} ms/image)  psnr ${one.psnr.toFixed(6)}  ssim ${one.ssim.toFixed(8)}`)
  const threads = os.availableParallelism()
  const t0 = performance.now()
  const many = await evaluateParallel(prediction, target, { diagnostics: false, threads })
  const manySeconds = (performance.now() - t0) / 1000
  console.log(
    `ours, ${threads} threads:  ${manySeconds.toFixed(3)} s  (${((manySeconds / count) * 1000).toFixed(2)} ms/image, worker start-up included)` +
      `  ${many.psnr === one.psnr && many.ssim === one.ssim ? "same numbers" : "DIFFERENT numbers"}`
  )
  // What the scorer evaluates per experiment: a few dozen frames, with the sharpness diagnostics.
  const frames = synthetic(40, 512)
  const scorerOptions = { shave: 4, scale: 4 }
  const [, framesOne] = seconds(() => evaluate(frames.prediction, frames.target, scorerOptions))
  const f0 = performance.now()
  await evaluateParallel(frames.prediction, frames.target, { ...scorerOptions, threads })
  const framesMany = (performance.now() - f0) / 1000
  console.log(
    `scorer-sized, 40 frames of 512x512 at x4 with diagnostics: ${framesOne.toFixed(2)} s on 1 thread ` +
      `(${((framesOne / 40) * 1000).toFixed(0)} ms/frame), ${framesMany.toFixed(2)} s on ${threads} threads`
  )
  // The SSIM passes' share of an experiment: an upper bound on what a faster SSIM kernel
  // could save. (A WebAssembly SIMD kernel, about 4x faster on it, saved 0.1 % of 600 s and was removed.)
  const repetitions = argument("repetitions", 5)
  ssimOnly(frames.prediction, frames.target, scorerOptions.shave) // warm-up
  const ssimSeconds = median(Array.from({ length: repetitions }, () => seconds(() => ssimOnly(frames.prediction, frames.target, scorerOptions.shave))[1]))
  const share = (s: number) => `${((s / experimentSeconds) * 100).toFixed(3)} %`
  console.log(
    `  of which SSIM (JS kernel): ${(ssimSeconds * 1000).toFixed(0)} ms (median of ${repetitions}) = ${share(ssimSeconds)} of a ${experimentSeconds} s experiment; ` +
      `the whole evaluation on 1 thread ${share(framesOne)}`
  )

  let reference: { seconds: number; psnr: number; ssim: number } | undefined
  const hasSkimage = fs.existsSync(python) &&
    (() => {
      try {
        execFileSync(python, ["-c", "import skimage"], { stdio: "ignore" })
        return true
      } catch {
        return false
      }
    })()
  if (!hasSkimage) {
    console.log(`scikit-image: skipped (${python} with python3-skimage not found; apt-get install python3-skimage)`)
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-bench-"))
    try {
      await Effect.runPromise(writeNpy(path.join(dir, "p.npy"), prediction))
      await Effect.runPromise(writeNpy(path.join(dir, "t.npy"), target))
      const single = { ...process.env, OMP_NUM_THREADS: "1", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "1" }
      const out = execFileSync(python, ["-c", skimageScript, path.join(dir, "p.npy"), path.join(dir, "t.npy")], { env: single, maxBuffer: 1 << 20 })
      reference = JSON.parse(out.toString().trim().split("\n").at(-1)!)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    console.log(`scikit-image:     ${reference!.seconds.toFixed(3)} s  (${((reference!.seconds / count) * 1000).toFixed(2)} ms/image)  psnr ${reference!.psnr.toFixed(6)}  ssim ${reference!.ssim.toFixed(8)}`)
    console.log(`agreement: psnr ${Math.abs(one.psnr - reference!.psnr).toExponential(1)} dB, ssim ${Math.abs(one.ssim - reference!.ssim).toExponential(1)}`)
    console.log(`speed-up vs scikit-image: ${(reference!.seconds / oneSeconds).toFixed(2)}x on 1 thread, ${(reference!.seconds / manySeconds).toFixed(2)}x on ${threads} threads`)
  }

  if (!fs.existsSync(realDir)) {
    console.log(`real LWIR images: skipped (${realDir} not found)`)
    return
  }
  // Each scene as a ground truth, its bicubic reduction as the input, bicubic upscaling as the prediction.
  for (const [folder, note] of [["roadscene", "8-bit AGC frames, /255"], ["radiometric16", "16-bit counts, each scene min-max normalised"]] as const) {
    const files = fs.readdirSync(path.join(realDir, folder)).filter((f) => f.endsWith(".png")).sort()
    const [images, decodeSeconds] = seconds(() => files.map((f) => readImageSync(path.join(realDir, folder, f)).stack))
    const pixels = images.reduce((n, s) => n + s.height * s.width, 0)
    console.log(`real ${folder}: decoded ${files.length} PNGs (${(pixels / 1e6).toFixed(1)} Mpixel) in ${decodeSeconds.toFixed(3)} s; ${note}`)
    for (const scale of [2, 4]) {
      const t0 = performance.now()
      const results = await Promise.all(images.map((image) => {
        const { min, max } = range(image.data)
        const h = Math.floor(image.height / scale) * scale
        const w = Math.floor(image.width / scale) * scale
        const hr = stack(1, h, w)
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const v = image.data[y * image.width + x]!
            hr.data[y * w + x] = folder === "radiometric16" ? (v - min) / (max - min) : v
          }
        }
        return hr
      }).reduce<Array<Array<Stack>>>((groups, hr) => {
        // Equal sizes go through evaluateParallel together.
        const last = groups.at(-1)?.[0]
        if (last !== undefined && last.height === hr.height && last.width === hr.width) groups.at(-1)!.push(hr)
        else groups.push([hr])
        return groups
      }, []).map(async (group) => {
        const hr = concatenate(group)
        const lr = resizeStack(hr, hr.height / scale, hr.width / scale)
        const result = await evaluateParallel(bicubicBaseline(lr, hr), hr, { shave: scale, scale })
        return { count: hr.count, result }
      }))
      const count = results.reduce((n, r) => n + r.count, 0)
      const mean = (pick: (e: Evaluation) => number) => results.reduce((a, r) => a + pick(r.result) * r.count, 0) / count
      console.log(
        `  bicubic x${scale}: psnr ${mean((e) => e.psnr).toFixed(3)} dB, ssim ${mean((e) => e.ssim).toFixed(4)}, ` +
          `gradient energy ${mean((e) => e.gradientEnergyRatio!).toFixed(3)}, hf energy ${mean((e) => e.highFrequencyEnergyRatio!).toFixed(3)} ` +
          `(of the truth's; ${((performance.now() - t0) / 1000).toFixed(2)} s)`
      )
    }
  }
}

await main()
