/**
 * The sharpness diagnostics against numpy (gradient energy, Laplacian variance, energy
 * above the LR Nyquist frequency with np.fft), and the FFT against a direct DFT.
 */
import { assert, describe, it } from "@effect/vitest"
import { evaluate } from "../src/Evaluation.ts"
import { fft } from "../src/Fft.ts"
import { frame, stack } from "../src/Image.ts"
import { gradientEnergy, hann, highFrequencyEnergies, highFrequencyEnergy, laplacianVariance, ratio } from "../src/Sharpness.ts"
import { loadStack, reference, relativeError } from "./reference.ts"

const dft = (re: ReadonlyArray<number>, im: ReadonlyArray<number>) => {
  const n = re.length
  const out = { re: new Array<number>(n).fill(0), im: new Array<number>(n).fill(0) }
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * k * t) / n
      out.re[k]! += re[t]! * Math.cos(a) - im[t]! * Math.sin(a)
      out.im[k]! += re[t]! * Math.sin(a) + im[t]! * Math.cos(a)
    }
  }
  return out
}

describe("fft", () => {
  it.each([1, 2, 8, 64, 3, 5, 7, 12, 37, 100, 254, 640])("matches a direct DFT for length %i", (n) => {
    const re = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) + (i % 3))
    const im = Float64Array.from({ length: n }, (_, i) => Math.cos(i * 0.3) - 0.5)
    const expected = dft([...re], [...im])
    fft(n)(re, im)
    for (let k = 0; k < n; k++) {
      assert.closeTo(re[k]!, expected.re[k]!, 1e-9 * n)
      assert.closeTo(im[k]!, expected.im[k]!, 1e-9 * n)
    }
  })
})

const cases = Object.entries(reference.metrics)
const close = (actual: number, expected: number, label: string) => {
  if (expected === 0) assert.isBelow(Math.abs(actual), 1e-20, label)
  else assert.isBelow(relativeError(actual, expected), 1e-9, `${label}: ${actual} vs ${expected}`)
}

describe("sharpness", () => {
  it.each(cases)("%s: as numpy", (name, expected) => {
    const pred = loadStack(`metrics-${name}-pred.npy`)
    const target = loadStack(`metrics-${name}-target.npy`)
    for (let i = 0; i < pred.count; i++) {
      const [p, t] = [frame(pred, i), frame(target, i)]
      close(gradientEnergy(p), expected.gradientEnergy[i]![0], `${name} gradient pred`)
      close(gradientEnergy(t), expected.gradientEnergy[i]![1], `${name} gradient target`)
      close(laplacianVariance(p), expected.laplacianVariance[i]![0], `${name} laplacian pred`)
      close(laplacianVariance(t), expected.laplacianVariance[i]![1], `${name} laplacian target`)
      close(highFrequencyEnergy(p, 2), expected.highFrequencyEnergy2[i]![0], `${name} hf x2 pred`)
      close(highFrequencyEnergy(t, 2), expected.highFrequencyEnergy2[i]![1], `${name} hf x2 target`)
      close(highFrequencyEnergy(p, 3), expected.highFrequencyEnergy3[i]![0], `${name} hf x3 pred`)
      const [hp, ht] = highFrequencyEnergies(p, t, 3)
      close(hp, expected.highFrequencyEnergy3[i]![0], `${name} hf x3 pred, paired`)
      close(ht, expected.highFrequencyEnergy3[i]![1], `${name} hf x3 target, paired`)
    }
  })

  it("reads below 1 for a blurred prediction, as ratios of summed energies over a stack", () => {
    const pred = loadStack("metrics-structured-pred.npy")
    const target = loadStack("metrics-structured-target.npy")
    const e = reference.metrics.structured!
    const result = evaluate(pred, target, { scale: 2 })
    assert.closeTo(result.gradientEnergyRatio!, e.gradientEnergy[0]![0] / e.gradientEnergy[0]![1], 1e-9)
    assert.closeTo(result.laplacianVarianceRatio!, e.laplacianVariance[0]![0] / e.laplacianVariance[0]![1], 1e-9)
    assert.closeTo(result.highFrequencyEnergyRatio!, e.highFrequencyEnergy2[0]![0] / e.highFrequencyEnergy2[0]![1], 1e-9)
    assert.isBelow(result.highFrequencyEnergyRatio!, 1)
    const noisy = evaluate(loadStack("metrics-stack-pred.npy"), loadStack("metrics-stack-target.npy"))
    const s = reference.metrics.stack!.gradientEnergy
    assert.closeTo(noisy.gradientEnergyRatio!, (s[0]![0] + s[1]![0] + s[2]![0]) / (s[0]![1] + s[1]![1] + s[2]![1]), 1e-9)
  })

  it("gives NaN, not a division by zero, when the target is flat", () => {
    assert.isNaN(ratio(1, 0))
    const flat = stack(1, 12, 12, new Float32Array(144).fill(0.5))
    assert.strictEqual(gradientEnergy(frame(flat, 0)), 0)
    assert.isNaN(evaluate(flat, flat).gradientEnergyRatio!)
    assert.deepStrictEqual([...hann(1)], [1])
    assert.deepStrictEqual([...hann(3)], [0, 1, 0])
  })
})
