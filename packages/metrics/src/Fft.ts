/**
 * The discrete Fourier transform of complex sequences of any length: mixed-radix
 * (factors 2, 3, 4, 5, 7; decimation in time) when the length has no larger prime
 * factor, as image sides almost always do (640 = 2^7 * 5), and Bluestein's chirp-z
 * algorithm through a power-of-two transform otherwise. Plans are built once per length.
 */

/** Transforms `re` + i `im` in place: X_k = sum_n x_n exp(-2 pi i k n / N). */
export type Transform = (re: Float64Array, im: Float64Array) => void

const radices = [4, 2, 3, 5, 7]

/** The length's factors in the order the passes use them, or undefined if it has a prime above 7. */
const factorise = (n: number): Array<number> | undefined => {
  const factors: Array<number> = []
  let rest = n
  for (const p of radices) {
    while (rest % p === 0) {
      factors.push(p)
      rest /= p
    }
  }
  return rest === 1 ? factors : undefined
}

const mixedRadix = (n: number, factors: ReadonlyArray<number>): Transform => {
  const cos = new Float64Array(n)
  const sin = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    cos[i] = Math.cos((2 * Math.PI * i) / n)
    sin[i] = -Math.sin((2 * Math.PI * i) / n)
  }
  const outRe = new Float64Array(n)
  const outIm = new Float64Array(n)
  const tRe = new Float64Array(8)
  const tIm = new Float64Array(8)

  /** The DFT of the `size` inputs at inAt, inAt + stride, ... into out[outAt .. outAt + size). */
  const step = (re: Float64Array, im: Float64Array, size: number, inAt: number, stride: number, outAt: number, level: number) => {
    const p = factors[level]!
    const m = size / p
    if (m === 1) {
      for (let q = 0; q < p; q++) {
        outRe[outAt + q] = re[inAt + q * stride]!
        outIm[outAt + q] = im[inAt + q * stride]!
      }
    } else {
      for (let q = 0; q < p; q++) step(re, im, m, inAt + q * stride, stride * p, outAt + q * m, level + 1)
    }
    const twiddle = n / size // W_size^e = W_n^(e * twiddle)
    for (let k = 0; k < m; k++) {
      for (let q = 0; q < p; q++) {
        const e = q * k * twiddle // < p * m * (n / size) = n
        const xr = outRe[outAt + q * m + k]!, xi = outIm[outAt + q * m + k]!
        tRe[q] = xr * cos[e]! - xi * sin[e]!
        tIm[q] = xr * sin[e]! + xi * cos[e]!
      }
      if (p === 2) {
        outRe[outAt + k] = tRe[0]! + tRe[1]!
        outIm[outAt + k] = tIm[0]! + tIm[1]!
        outRe[outAt + m + k] = tRe[0]! - tRe[1]!
        outIm[outAt + m + k] = tIm[0]! - tIm[1]!
      } else if (p === 4) {
        const ar = tRe[0]! + tRe[2]!, ai = tIm[0]! + tIm[2]!
        const br = tRe[0]! - tRe[2]!, bi = tIm[0]! - tIm[2]!
        const cr = tRe[1]! + tRe[3]!, ci = tIm[1]! + tIm[3]!
        // (t1 - t3) times -i
        const dr = tIm[1]! - tIm[3]!, di = tRe[3]! - tRe[1]!
        outRe[outAt + k] = ar + cr
        outIm[outAt + k] = ai + ci
        outRe[outAt + m + k] = br + dr
        outIm[outAt + m + k] = bi + di
        outRe[outAt + 2 * m + k] = ar - cr
        outIm[outAt + 2 * m + k] = ai - ci
        outRe[outAt + 3 * m + k] = br - dr
        outIm[outAt + 3 * m + k] = bi - di
      } else {
        // A small DFT of the p twiddled values: W_p^(q s) = W_n^(q s n / p).
        const unit = n / p
        for (let s = 0; s < p; s++) {
          let sr = 0, si = 0
          for (let q = 0; q < p; q++) {
            const e = ((q * s) % p) * unit
            sr += tRe[q]! * cos[e]! - tIm[q]! * sin[e]!
            si += tRe[q]! * sin[e]! + tIm[q]! * cos[e]!
          }
          outRe[outAt + s * m + k] = sr
          outIm[outAt + s * m + k] = si
        }
      }
    }
  }

  return (re, im) => {
    step(re, im, n, 0, 1, 0, 0)
    re.set(outRe)
    im.set(outIm)
  }
}

const bluestein = (n: number): Transform => {
  let m = 1
  while (m < 2 * n - 1) m *= 2
  const inner = mixedRadix(m, factorise(m)!)
  // The chirp exp(-i pi k^2 / n); k^2 is reduced mod 2n first to keep the angle exact.
  const chirpRe = new Float64Array(n)
  const chirpIm = new Float64Array(n)
  for (let k = 0; k < n; k++) {
    const angle = (Math.PI * ((k * k) % (2 * n))) / n
    chirpRe[k] = Math.cos(angle)
    chirpIm[k] = -Math.sin(angle)
  }
  const filterRe = new Float64Array(m)
  const filterIm = new Float64Array(m)
  for (let k = 0; k < n; k++) {
    filterRe[k] = chirpRe[k]!
    filterIm[k] = -chirpIm[k]!
    if (k > 0) {
      filterRe[m - k] = chirpRe[k]!
      filterIm[m - k] = -chirpIm[k]!
    }
  }
  inner(filterRe, filterIm)
  const workRe = new Float64Array(m)
  const workIm = new Float64Array(m)
  return (re, im) => {
    workRe.fill(0)
    workIm.fill(0)
    for (let k = 0; k < n; k++) {
      workRe[k] = re[k]! * chirpRe[k]! - im[k]! * chirpIm[k]!
      workIm[k] = re[k]! * chirpIm[k]! + im[k]! * chirpRe[k]!
    }
    inner(workRe, workIm)
    // Multiply by the filter's spectrum, conjugated so that the forward transform inverts.
    for (let k = 0; k < m; k++) {
      const r = workRe[k]! * filterRe[k]! - workIm[k]! * filterIm[k]!
      const i = workRe[k]! * filterIm[k]! + workIm[k]! * filterRe[k]!
      workRe[k] = r
      workIm[k] = -i
    }
    inner(workRe, workIm)
    for (let k = 0; k < n; k++) {
      const r = workRe[k]! / m, i = -workIm[k]! / m
      re[k] = r * chirpRe[k]! - i * chirpIm[k]!
      im[k] = r * chirpIm[k]! + i * chirpRe[k]!
    }
  }
}

const plans = new Map<number, Transform>()

/** The forward transform for sequences of length `n`. */
export const fft = (n: number): Transform => {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`FFT length must be a positive integer, got ${n}`)
  let plan = plans.get(n)
  if (plan === undefined) {
    const factors = factorise(n)
    plan = n === 1 ? () => {} : factors !== undefined ? mixedRadix(n, factors) : bluestein(n)
    plans.set(n, plan)
  }
  return plan
}
