import { describe, expect, it } from "vitest"
import type { LoopEvent } from "../src/Events.ts"
import type { PhaseName } from "../src/Experiment.ts"
import * as LiveStatus from "../src/LiveStatus.ts"

const at = (second: number) => new Date(Date.UTC(2026, 10, 29, 12, 0, second)).toISOString()
const started = (id: number): LoopEvent => ({ _tag: "ExperimentStarted", id, description: `#${id}`, budgetSeconds: 30 })
const phase = (id: number, name: PhaseName): LoopEvent => ({ _tag: "PhaseStarted", id, phase: name, log: `${name}.log` })
const phaseDone = (id: number, name: PhaseName): LoopEvent => ({ _tag: "PhaseFinished", id, phase: name, seconds: 1 })
const decided = (id: number) => ({ _tag: "Decided", id } as unknown as LoopEvent)

describe("LiveStatus", () => {
  it("follows every experiment in flight, each with its own phase, and drops it once decided", () => {
    const events: Array<LoopEvent> = [started(1), phase(1, "train"), started(2), phase(2, "train"), phaseDone(1, "train"), phase(1, "predict")]
    let status = LiveStatus.initial(at(0))
    events.forEach((event, k) => (status = LiveStatus.next(status, event, at(k + 1))))
    expect(status.inFlight).toEqual([
      { id: 1, phase: "predict", startedAt: at(6) },
      { id: 2, phase: "train", startedAt: at(4) }
    ])
    // The latest event's experiment and phase stay at the top, as a single run shows them.
    expect([status.id, status.phase, status.budgetSeconds]).toEqual([1, "predict", 30])
    status = LiveStatus.next(status, decided(1), at(7))
    expect(status.inFlight).toEqual([{ id: 2, phase: "train", startedAt: at(4) }])
    status = LiveStatus.next(status, { _tag: "LoopFinished", reason: "done", best: undefined }, at(8))
    expect(status.inFlight).toEqual([])
  })

  it("leaves in-flight experiments alone for a noise run's phases (id -1)", () => {
    let status = LiveStatus.next(LiveStatus.initial(at(0)), started(3), at(1))
    status = LiveStatus.next(status, phase(-1, "train"), at(2))
    expect(status.inFlight).toEqual([{ id: 3, phase: null, startedAt: null }])
  })
})
