/** The experiments table shows throughput columns only when the training reports them. */
import type { JournalEntry } from "@autoresearch/core"
import { describe, expect, it } from "vitest"
import { table } from "../src/Table.ts"

const entry = (id: number, reported: Record<string, number>): JournalEntry => ({
  id,
  parent: null,
  commit: `c${id}`.padEnd(40, "0"),
  status: "keep",
  metrics: { val_psnr: 30 + id },
  reported,
  flags: [],
  description: `#${id}`,
  hypothesis: "",
  seconds: { total: 10 },
  cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
  fingerprint: "f",
  seed: 0,
  startedAt: "2026-01-01T00:00:00.000Z",
  finishedAt: "2026-01-01T00:00:10.000Z"
})
const metric = { name: "val_psnr", direction: "max" as const }

describe("table", () => {
  it("has no throughput column when nothing reports one", () => {
    expect(table([entry(0, {})], metric).split("\n")[0]).toMatch(/^id\s+commit\s+status\s+val_psnr\s+vs best\s+gain\/MAD\s+time\s+description$/)
  })

  it("shows samples/s, and MFU where a known GPU gave one", () => {
    const lines = table([entry(0, { samples_per_second: 262.3 }), entry(1, { samples_per_second: 41_200, mfu: 0.4123 }), entry(2, {})], metric).split("\n")
    expect(lines[0]).toMatch(/^id\s+commit\s+status\s+val_psnr\s+vs best\s+gain\/MAD\s+time\s+samples\/s\s+MFU\s+description$/)
    expect(lines[1]).toMatch(/10\.0s\s+262\s+#0$/)
    expect(lines[2]).toMatch(/10\.0s\s+41200\s+41\.2%\s+#1$/)
    expect(lines[3]).toMatch(/10\.0s\s+#2$/)
  })
})
