/**
 * A proposer that replays prepared candidates: each subfolder of a folder, in name order,
 * holds replacement versions of mutable files, or search/replace edits in `edits.json`,
 * and a `DESCRIPTION` (first line, then the hypothesis). It skips folders the journal already
 * records or that are in flight, so a resumed run goes on where it stopped. Used by tests and for re-running
 * a known sequence of ideas.
 */
import { Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Edit } from "./Proposal.ts"
import { Proposer, ProposerError, ProposerExhausted } from "./Proposer.ts"

const decodeEdits = Schema.decodeUnknownSync(Schema.fromJsonString(Schema.Array(Edit)))

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
        // Neither what the journal records nor what is in flight (parallel workers, prefetching) is handed out again.
        const done = new Set([...context.journal.map((entry) => entry.source), ...(context.inFlight ?? []).map((proposal) => proposal.source)])
        const next = fs.readdirSync(dir, { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => entry.name)
          .sort()
          .find((name) => !done.has(`replay:${name}`))
        if (next === undefined) return yield* new ProposerExhausted({ proposer: "replay" })
        const folder = path.join(dir, next)
        const wholeFiles = filesBelow(folder)
          .filter((file) => file !== "DESCRIPTION" && file !== "edits.json")
          .map((file) => ({ path: file, search: "", replace: fs.readFileSync(path.join(folder, file), "utf8") }))
        const editsFile = path.join(folder, "edits.json")
        const searchReplace = fs.existsSync(editsFile)
          ? yield* Effect.try({
            try: () => decodeEdits(fs.readFileSync(editsFile, "utf8")),
            catch: (error) =>
              new ProposerError({ proposer: "replay", reason: `${editsFile}: ${(error as Error).message}`, fix: "a JSON array of { path, search, replace }" })
          })
          : []
        return { ...readDescription(folder, next), edits: [...wholeFiles, ...searchReplace], source: `replay:${next}` }
      })
  })

export const layer = (dir: string) => Layer.succeed(Proposer, make(dir))
