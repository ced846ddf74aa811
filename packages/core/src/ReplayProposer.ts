/**
 * A proposer that replays prepared candidates: each subfolder of a folder, in name order,
 * holds replacement versions of mutable files. It skips folders the journal already
 * records, so a resumed run goes on where it stopped. Used by tests and for re-running
 * a known sequence of ideas.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Proposer, ProposerError, ProposerExhausted } from "./Proposer.ts"

const readDescription = (folder: string, name: string) => {
  const file = path.join(folder, "DESCRIPTION")
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : []
  return { description: lines[0]?.trim() || name, hypothesis: lines.slice(1).join("\n").trim() }
}

const filesBelow = (root: string, dir = ""): Array<string> =>
  fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.posix.join(dir, entry.name)
    return entry.isDirectory() ? filesBelow(root, relative) : [relative]
  })

export const make = (dir: string) =>
  Proposer.of({
    name: "replay",
    propose: (context) =>
      Effect.gen(function*() {
        if (!fs.existsSync(dir)) {
          return yield* new ProposerError({ proposer: "replay", reason: `replay folder not found: ${dir}`, fix: "--replay-dir" })
        }
        const done = new Set(context.journal.map((entry) => entry.source))
        const next = fs.readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
          .sort()
          .find((name) => !done.has(`replay:${name}`))
        if (next === undefined) return yield* new ProposerExhausted({ proposer: "replay" })
        const folder = path.join(dir, next)
        const edits = filesBelow(folder)
          .filter((file) => file !== "DESCRIPTION")
          .map((file) => ({ path: file, search: "", replace: fs.readFileSync(path.join(folder, file), "utf8") }))
        return { ...readDescription(folder, next), edits, source: `replay:${next}` }
      })
  })

export const layer = (dir: string) => Layer.succeed(Proposer, make(dir))
