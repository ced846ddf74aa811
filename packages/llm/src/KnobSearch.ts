/**
 * The search strategy of the knob proposer, as pure functions of the knobs, the
 * incumbent configuration, the trials so far and a seeded random source. It is a (1+1)
 * evolution strategy in the unit cube of the knobs (log-scaled where the knob says so):
 * mutate one or a few knobs of the incumbent by a normal step whose size grows after a
 * keep and shrinks after a miss (the one-fifth rule). When two trials on the current
 * incumbent each did better but by less than the keep rule asks (`minDelta`), it tries
 * their changes together. It never proposes a configuration that was tried or is running.
 */
import { canonical, type Config, configKey, fromUnit, type Knob, toUnit } from "./Knobs.ts"

export interface Trial {
  /** The journal entry's id. */
  readonly id: number
  readonly config: Config
  /** The incumbent it was built on. */
  readonly parent: Config | undefined
  /** The primary metric, for a run that completed. */
  readonly value: number | undefined
  /** The incumbent's metric when the trial was proposed. */
  readonly parentValue: number | undefined
  readonly kept: boolean
  /** How it was made; only mutations count for the step size. */
  readonly move: Move | undefined
}

export type Move = "mutate" | "combine" | "explore"

export interface Step {
  readonly config: Config
  readonly move: Move
  readonly sigma: number
  /** For `combine`: the two earlier trials whose changes are applied together. */
  readonly combined?: readonly [Trial, Trial]
}

/** A seeded generator of numbers in [0, 1) (mulberry32); equal seeds, equal sequences. */
export const random = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A seed for step `step` of a search seeded with `seed`, so a resumed run draws what an unbroken one would. */
export const seedFor = (seed: number, step: number) => Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35)

const normal = (next: () => number) => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next())

export const initialSigma = 0.35
const minSigma = 0.02
const maxSigma = 0.5
const grow = 1.5
// One keep in five holds the step size steady: grow^(1/5) * shrink^(4/5) = 1.
const shrink = grow ** -0.25

/** The step size after the trials: the one-fifth rule, restarted after a long run of misses at a small step. */
export const stepSize = (trials: ReadonlyArray<Trial>): number => {
  let sigma = initialSigma
  let misses = 0
  for (const trial of trials) {
    if (trial.move !== "mutate") continue
    if (trial.kept) {
      sigma = Math.min(maxSigma, sigma * grow)
      misses = 0
    } else {
      sigma = Math.max(minSigma, sigma * shrink)
      misses++
      if (misses >= 12 && sigma < 0.05) {
        sigma = initialSigma
        misses = 0
      }
    }
  }
  return sigma
}

const reflect = (u: number) => {
  let x = Math.abs(u) % 2
  if (x > 1) x = 2 - x
  return x
}

/** Moves `knob` from `value` by a step of size `sigma`; a chosen knob always changes when it can. */
const mutateKnob = (knob: Knob, value: string, sigma: number, next: () => number): string => {
  const domain = knob.domain
  if (domain._tag === "choice") {
    const at = toUnit(knob, value)
    const others = domain.options.map((_, i) => i).filter((i) => i !== at)
    return fromUnit(knob, others[Math.floor(next() * others.length)]!)
  }
  const moved = fromUnit(knob, reflect(toUnit(knob, value) + sigma * normal(next)))
  if (domain._tag !== "int" || canonical(knob, moved) !== canonical(knob, value)) return moved
  const current = Math.round(Number(value))
  const stepped = current + (next() < 0.5 ? -1 : 1)
  return String(stepped < domain.min || stepped > domain.max ? current - (stepped - current) : stepped)
}

const mutate = (knobs: ReadonlyArray<Knob>, incumbent: Config, sigma: number, next: () => number): Config => {
  // Mostly one or two knobs at a time: an experiment should say which change did it.
  const count = 1 + knobs.slice(1).filter(() => next() < 0.3).length
  const order = knobs.map((knob) => ({ knob, key: next() })).sort((a, b) => a.key - b.key).slice(0, count)
  const config: Record<string, string> = { ...incumbent }
  for (const { knob } of order) config[knob.id] = mutateKnob(knob, incumbent[knob.id] ?? knob.value, sigma, next)
  return config
}

/** What a trial changed from its parent: the knobs that differ, with their new values. */
const changesOf = (knobs: ReadonlyArray<Knob>, trial: Trial): Config =>
  Object.fromEntries(knobs.flatMap((knob) => {
    const now = trial.config[knob.id] ?? knob.value
    const before = trial.parent?.[knob.id] ?? knob.value
    return canonical(knob, now) === canonical(knob, before) ? [] : [[knob.id, now]]
  }))

const explore = (knobs: ReadonlyArray<Knob>, next: () => number): Config =>
  Object.fromEntries(knobs.map((knob) =>
    [knob.id, fromUnit(knob, knob.domain._tag === "choice" ? Math.floor(next() * knob.domain.options.length) : next())]
  ))

/** Trials built on the current incumbent that did better than it and were still discarded (a gain under `minDelta`). */
export const nearMisses = (knobs: ReadonlyArray<Knob>, incumbent: Config, trials: ReadonlyArray<Trial>, direction: "min" | "max") =>
  trials.filter((trial) =>
    !trial.kept && trial.parent !== undefined && configKey(knobs, trial.parent) === configKey(knobs, incumbent) &&
    trial.value !== undefined && trial.parentValue !== undefined &&
    (direction === "min" ? trial.value < trial.parentValue : trial.value > trial.parentValue)
  )

export interface SearchInput {
  readonly knobs: ReadonlyArray<Knob>
  readonly incumbent: Config
  readonly trials: ReadonlyArray<Trial>
  /** Configurations proposed and not yet in the trials (running now). */
  readonly pending: ReadonlyArray<Config>
  readonly direction: "min" | "max"
  readonly next: () => number
}

/** The next configuration to try, or undefined when every one the search can reach was tried. */
export const nextStep = (input: SearchInput): Step | undefined => {
  const { knobs, incumbent, trials, next } = input
  const tried = new Set([incumbent, ...input.pending, ...trials.map((trial) => trial.config)].map((config) => configKey(knobs, config)))
  const fresh = (config: Config) => !tried.has(configKey(knobs, config))
  const sigma = stepSize(trials)

  const near = nearMisses(knobs, incumbent, trials, input.direction)
  if (near.length >= 2 && next() < 0.5) {
    for (let attempt = 0; attempt < 8; attempt++) {
      const a = near[Math.floor(next() * near.length)]!
      const b = near[Math.floor(next() * near.length)]!
      if (a === b) continue
      const child = { ...incumbent, ...changesOf(knobs, a), ...changesOf(knobs, b) }
      if (fresh(child)) return { config: child, move: "combine", sigma, combined: [a, b] }
    }
  }
  let scale = sigma
  for (let attempt = 0; attempt < 64; attempt++) {
    const candidate = mutate(knobs, incumbent, Math.min(1, scale), next)
    if (fresh(candidate)) return { config: candidate, move: "mutate", sigma: scale }
    scale *= 1.2
  }
  for (let attempt = 0; attempt < 256; attempt++) {
    const candidate = explore(knobs, next)
    if (fresh(candidate)) return { config: candidate, move: "explore", sigma }
  }
  const left = enumerate(knobs, 10_000)?.find(fresh)
  return left === undefined ? undefined : { config: left, move: "explore", sigma }
}

/** Every configuration of a small, wholly discrete space (int and choice knobs); undefined otherwise. */
const enumerate = (knobs: ReadonlyArray<Knob>, limit: number): Array<Config> | undefined => {
  const values = knobs.map((knob) => {
    const domain = knob.domain
    if (domain._tag === "choice") return domain.options.map((_, i) => fromUnit(knob, i))
    if (domain._tag !== "int" || domain.max - domain.min >= limit) return undefined
    return Array.from({ length: domain.max - domain.min + 1 }, (_, i) => String(domain.min + i))
  })
  if (values.some((options) => options === undefined)) return undefined
  if (values.reduce((size, options) => size * options!.length, 1) > limit) return undefined
  return values.reduce<Array<Config>>(
    (configs, options, i) => configs.flatMap((config) => options!.map((value) => ({ ...config, [knobs[i]!.id]: value }))),
    [{}]
  )
}
