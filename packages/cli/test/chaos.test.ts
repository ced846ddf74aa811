/**
 * Chaos: a toy research run (examples/toy, replayed candidates that alternate keeps and
 * discards) SIGKILLed again and again, the CLI alone or its whole process group, at
 * random moments drawn from a seed: during prepare, train, predict and score, during
 * `git commit`, the discard's `git update-ref` and `git reset`, the keep's `git checkout`,
 * and in the journal write (a line torn in half, a line not yet synced, results.tsv not
 * yet rewritten or not yet renamed into place). Git steps and the journal write last
 * milliseconds, so the test aims: chaos-hook.mjs, loaded into the CLI with NODE_OPTIONS
 * and changing nothing it does, stops the CLI (SIGSTOP) at the chosen moment, and the
 * test kills it there. After each kill the same command is run again, with no help, until
 * the run completes. Then the run must be whole: contiguous ids, results.tsv as the
 * journal, the branch holding exactly the kept commits, discarded commits under their
 * refs, a clean worktree, no process of the run left, no lock in the way.
 *
 * The seed is printed; AUTORESEARCH_CHAOS_SEED=<seed> replays a failing draw.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { branchHead, cliBin, discardedRef, git, makeToyRepo, plain, readJournal, type ToyRepo, toyTrain, worktreeStatus, writeCandidate } from "./fixtures.ts"

const hook = path.join(import.meta.dirname, "chaos-hook.mjs")

/** mulberry32: a small seeded generator, so that a failing draw can be replayed. */
const generator = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The moments aimed at (see chaos-hook.mjs): each at least once, unless the run is near its end. */
type Moment =
  | "prepare"
  | "train"
  | "predict"
  | "score"
  | "git:commit"
  | "git:update-ref"
  | "git:reset:!HEAD"
  | "git:checkout"
  | "journal-torn"
  | "journal-unsynced"
  | "results-write"
  | "results-rename"
const moments: ReadonlyArray<Moment> = [
  "prepare",
  "train",
  "predict",
  "score",
  "git:commit",
  "git:update-ref",
  "git:reset:!HEAD",
  "git:checkout",
  "journal-torn",
  "journal-unsynced",
  "results-write",
  "results-rename"
]
type Kind = "cli" | "group"

interface Plan {
  readonly moment: Moment
  readonly kind: Kind
}

interface Attempt {
  readonly plan: Plan | undefined
  /** What the hook noted when it stopped the CLI; undefined when it was not stopped. */
  readonly note: { readonly moment: string; readonly detail: string; readonly running: ReadonlyArray<string> } | undefined
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  readonly journalBefore: number
  readonly journalAfter: number
  readonly ms: number
}

let repos: Array<ToyRepo> = []
let children: Array<ChildProcess> = []
afterEach(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        // gone
      }
    }
  }
  children = []
  for (const repo of repos) repo.cleanup()
  repos = []
})

/** /proc/<pid>/stat's state letter, or undefined when the process is gone. */
const processState = (pid: number): string | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]
  } catch {
    return undefined
  }
}

/** Live processes that belong to the run: the run's token in their environment, or their working directory or environment under `base`. */
const processesOf = (base: string, token: string): Array<string> => {
  const found: Array<string> = []
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    try {
      const environ = fs.readFileSync(`/proc/${name}/environ`, "latin1")
      let cwd = ""
      try {
        cwd = fs.readlinkSync(`/proc/${name}/cwd`)
      } catch {
        // a kernel thread, or gone
      }
      if (environ.includes(token) || environ.includes(base) || cwd.startsWith(base)) {
        const state = processState(Number(name))
        if (state === undefined || state === "Z") continue
        found.push(`${name} ${fs.readFileSync(`/proc/${name}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`)
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return found
}

/** Complete lines of the journal: a line a kill cut short is not an experiment (the next run drops it). */
const journalLength = (repo: ToyRepo, tag: string) => {
  const file = path.join(repo.stateDir(tag), "journal.jsonl")
  if (!fs.existsSync(file)) return 0
  const text = fs.readFileSync(file, "utf8")
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter(Boolean).length
}

describe("autoresearch run under chaos", () => {
  it("is SIGKILLed 20 times at random moments and resumes each time to a whole run", async () => {
    const seed = Number(process.env.AUTORESEARCH_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))
    const random = generator(seed)
    const pick = <A>(items: ReadonlyArray<A>) => items[Math.floor(random() * items.length)]!
    console.log(`chaos seed ${seed} (AUTORESEARCH_CHAOS_SEED=${seed} replays it)`)
    const started = Date.now()

    const repo = makeToyRepo()
    repos.push(repo)
    const tag = "chaos"
    // More steps fit the curve better: keeps and discards alternate.
    const steps = [400, 100, 500, 200, 600, 150, 700, 120, 800, 110]
    steps.forEach((count, index) => {
      const name = String(index + 1).padStart(2, "0")
      writeCandidate(repo, name, `steps ${count}`, { "train.py": toyTrain({ STEPS: String(count) }) })
    })
    const maxExperiments = steps.length + 1
    const args = ["run", "research", "--replay-dir", repo.candidates, "--tag", tag, "--max-experiments", String(maxExperiments)]
    const stateDir = repo.stateDir(tag)
    const base = path.dirname(repo.root)
    const token = `chaos-${seed}-${process.pid}`
    const noteFile = path.join(base, "chaos-notes.jsonl")

    // Each moment once, in a random order, then more draws, 20 kills in all, half of them of the CLI alone and
    // half of its process group; prepare comes first, as it runs only until the data cache is built.
    const kinds: Array<Kind> = Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? "cli" : "group"))
    const shuffle = <A>(items: Array<A>) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[items[i], items[j]] = [items[j]!, items[i]!]
      }
      return items
    }
    shuffle(kinds)
    const later = moments.filter((moment) => moment !== "prepare")
    const aims = ["prepare" as const, ...shuffle([...later]), ...Array.from({ length: 20 - moments.length }, () => pick(later))]
    const schedule: Array<Plan> = aims.map((moment, index) => ({ moment, kind: kinds[index]! }))

    const run = async (aimed: Plan | undefined): Promise<Attempt> => {
      const journalBefore = journalLength(repo, tag)
      const left = maxExperiments - journalBefore
      // prepare runs until the data cache is built; once it is, a kill aimed at prepare goes to train instead.
      // The run must not end before the last kill: with three experiments left, a kill is aimed only at a
      // moment of the next experiment that records nothing (a journal write tears its line).
      const moment: Moment | undefined = aimed?.moment === "prepare" && fs.existsSync(path.join(stateDir, "cache.fingerprint"))
        ? "train"
        : left <= 3 && aimed !== undefined && !["train", "predict", "score", "git:commit", "journal-torn"].includes(aimed.moment)
        ? (aimed.moment.startsWith("git") ? "git:commit" : "journal-torn")
        : aimed?.moment
      const plan = aimed === undefined ? undefined : { ...aimed, moment: moment! }
      // The occurrence aimed at: mostly the first in this process, sometimes a later one, so the run moves on.
      // The keep's checkout comes after the one every start makes, an append's rewrite of results.tsv after
      // the one opening the journal makes.
      const first = plan === undefined ? 0 : ["git:checkout", "results-write", "results-rename"].includes(plan.moment) ? 2 : 1
      const nth = first + (plan !== undefined && plan.moment !== "prepare" && left > 5 && random() < 0.15 ? 1 : 0)
      const delayMs = Math.floor(random() * 400)
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1", AUTORESEARCH_CHAOS_TOKEN: token }
      delete env.FORCE_COLOR
      delete env.AUTORESEARCH_CHAOS_STOP
      if (plan !== undefined) {
        env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ""} --import ${hook}`.trim()
        env.AUTORESEARCH_CHAOS_STOP = JSON.stringify({ moment: plan.moment, nth, delayMs })
        env.AUTORESEARCH_CHAOS_NOTE = noteFile
      }
      const notesBefore = fs.existsSync(noteFile) ? fs.readFileSync(noteFile, "utf8").split("\n").filter(Boolean).length : 0
      const t0 = Date.now()
      const child = spawn(process.execPath, [cliBin, ...args], { cwd: repo.root, env, stdio: ["ignore", "pipe", "pipe"], detached: true })
      children.push(child)
      let stdout = ""
      let stderr = ""
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
      const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal }))
      )
      let exited = false
      void closed.then(() => (exited = true))
      // Never stuck: the moment aimed at comes, or the run ends, well within this.
      const deadline = Date.now() + 120_000
      let stopped = false
      while (!exited && Date.now() < deadline) {
        if (plan !== undefined && processState(child.pid!) === "T") {
          stopped = true
          break
        }
        await sleep(plan !== undefined && plan.moment.startsWith("git") ? 2 : 10)
      }
      if (stopped) {
        // In a git step, git goes on for a moment first (it is not stopped): the kill lands somewhere inside it.
        if (plan!.moment.startsWith("git")) await sleep(Math.floor(random() * 30))
        process.kill(plan!.kind === "group" ? -child.pid! : child.pid!, "SIGKILL")
      } else if (!exited) {
        process.kill(-child.pid!, "SIGKILL")
        await closed
        throw new Error(`seed ${seed}: stuck: ${JSON.stringify(plan)} neither reached its moment nor ended in 120 s\n${plain(stdout)}\n${plain(stderr)}`)
      }
      const { code, signal } = await closed
      const notes = fs.existsSync(noteFile) ? fs.readFileSync(noteFile, "utf8").split("\n").filter(Boolean) : []
      const note = notes.length > notesBefore ? JSON.parse(notes.at(-1)!) : undefined
      return {
        plan,
        note,
        code,
        signal,
        stdout: plain(stdout),
        stderr: plain(stderr),
        journalBefore,
        journalAfter: journalLength(repo, tag),
        ms: Date.now() - t0
      }
    }

    const attempts: Array<Attempt> = []
    /** One line per run: what it was aimed at, how it ended, where the hook stopped it. */
    const trace: Array<string> = []
    let finished = false
    for (const plan of schedule) {
      const attempt = await run(plan)
      attempts.push(attempt)
      trace.push(
        `  ${attempts.length} ${attempt.plan?.moment} ${attempt.plan?.kind}: ${attempt.signal ?? attempt.code} after ${attempt.ms} ms, ` +
          `journal ${attempt.journalBefore} -> ${attempt.journalAfter}; ${attempt.note?.detail ?? ""} [${attempt.note?.running.join(", ") ?? ""}]`
      )
      const said = `seed ${seed}, attempt ${attempts.length} ${JSON.stringify(plan)}:\n${trace.join("\n")}\n${attempt.stdout}\n${attempt.stderr}`
      // Never stuck: each run either got to the moment it was aimed at (past the lock, the repairs and the
      // resume, into the work) and was killed there, or ended by itself.
      expect(attempt.stderr, said).not.toContain("error")
      if (attempt.signal === "SIGKILL") {
        expect(attempt.note, said).toBeDefined()
      } else {
        // Not killed: the run must have ended by itself, and well.
        expect(attempt.code, said).toBe(0)
        expect(attempt.stdout, said).toContain("finished:")
        finished = true
        break
      }
      // A kill never loses a recorded experiment (a torn line was never recorded).
      expect(attempt.journalAfter, said).toBeGreaterThanOrEqual(attempt.journalBefore)
    }
    // The run completes: one more resume without chaos at most, and a bounded number of them in all.
    if (!finished) {
      const last = await run(undefined)
      attempts.push(last)
      expect(last.code, `seed ${seed}, final resume:\n${last.stdout}\n${last.stderr}`).toBe(0)
      expect(last.stdout).toContain(`finished: reached max experiments (${maxExperiments})`)
    }
    expect(attempts.length).toBeLessThanOrEqual(schedule.length + 1)

    const kills = attempts.filter((attempt) => attempt.signal === "SIGKILL")
    const tally = (key: (attempt: Attempt) => string) => {
      const counts = new Map<string, number>()
      for (const attempt of kills) counts.set(key(attempt), (counts.get(key(attempt)) ?? 0) + 1)
      return [...counts].map(([name, count]) => `${name} ${count}`).join(", ")
    }
    const landed = (attempt: Attempt) => {
      const note = attempt.note!
      if (note.moment.startsWith("git")) {
        const step = note.running.find((what) => what.startsWith("git ")) ?? note.moment
        return note.detail.includes("/interrupted/") ? `${step} (setting an interrupted one aside)` : step
      }
      if (!["prepare", "train", "predict", "score"].includes(note.moment)) return note.moment
      return note.running.includes(note.moment) ? `in ${note.moment}` : `after ${note.moment} (${note.running.join("+") || "between steps"})`
    }
    console.log(
      [
        `chaos seed ${seed}: ${kills.length} kills in ${attempts.length} runs, ${((Date.now() - started) / 1000).toFixed(1)} s`,
        `  by kind: ${tally((attempt) => attempt.plan!.kind)}`,
        `  aimed at: ${tally((attempt) => attempt.plan!.moment)}`,
        `  landed: ${tally(landed)}`,
        `  journal length after each run: ${attempts.map((attempt) => attempt.journalAfter).join(" ")}`,
        ...trace
      ].join("\n")
    )
    expect(kills.length).toBeGreaterThanOrEqual(20)
    expect(new Set(kills.map((attempt) => attempt.plan!.kind))).toEqual(new Set(["cli", "group"]))

    // Ids contiguous, each experiment once, each candidate once.
    const journal = readJournal(repo, tag)
    expect(journal.map((entry) => entry.id)).toEqual([...Array(maxExperiments).keys()])
    expect(journal.map((entry) => entry.source)).toEqual([undefined, ...steps.map((_, index) => `replay:${String(index + 1).padStart(2, "0")}`)])
    const commits = journal.flatMap((entry) => (entry.commit === null ? [] : [entry.commit as string]))
    expect(new Set(commits).size).toBe(commits.length)

    // results.tsv is the journal, row for row.
    const rows = fs.readFileSync(path.join(stateDir, "results.tsv"), "utf8").trimEnd().split("\n").slice(1).map((line) => line.split("\t"))
    expect(rows.map((row) => [row[0], row.at(-2), row.at(-1)])).toEqual(
      journal.map((entry) => [entry.commit?.slice(0, 7) ?? "-", entry.status, entry.description])
    )
    expect(fs.readdirSync(stateDir).filter((name) => name.endsWith(".tmp"))).toEqual([])

    // The branch holds exactly the kept commits, in order, each on the one before.
    const kept = journal.filter((entry) => entry.status === "keep")
    expect(kept[0]!.id).toBe(0)
    expect(kept[0]!.commit).toBe(git(repo.root, "rev-parse", "main"))
    expect(branchHead(repo, tag)).toBe(kept.at(-1)!.commit)
    const onBranch = git(repo.root, "rev-list", "--reverse", `main..refs/heads/autoresearch/${tag}`).split("\n").filter(Boolean)
    expect(onBranch).toEqual(kept.slice(1).map((entry) => entry.commit))
    for (const [index, entry] of kept.slice(1).entries()) expect(entry.parent, `#${entry.id}`).toBe(kept[index]!.commit)

    // Each discarded commit under its ref; no discarded ref without its experiment.
    const notKept = journal.filter((entry) => entry.status !== "keep" && entry.commit !== null)
    expect(notKept.length).toBeGreaterThan(0)
    for (const entry of notKept) expect(discardedRef(repo, tag, entry.id), `#${entry.id}`).toBe(entry.commit)
    const discardedRefs = git(repo.root, "for-each-ref", "--format=%(refname)", `refs/autoresearch/${tag}/discarded/`).split("\n").filter(Boolean)
    expect(discardedRefs.sort()).toEqual(notKept.map((entry) => `refs/autoresearch/${tag}/discarded/${entry.id}`).sort())
    // What resumes set aside is only ever under interrupted/.
    const others = git(repo.root, "for-each-ref", "--format=%(refname)", `refs/autoresearch/${tag}/`).split("\n").filter(Boolean)
      .filter((ref) => !ref.startsWith(`refs/autoresearch/${tag}/discarded/`))
    for (const ref of others) expect(ref).toMatch(new RegExp(`^refs/autoresearch/${tag}/interrupted/\\d+-[0-9a-f]{12}$`))

    expect(worktreeStatus(repo, tag)).toBe("")
    expect(git(repo.root, "status", "--porcelain")).toBe("")

    // Nothing of the run is left running.
    expect(processesOf(base, token)).toEqual([])

    // No lock blocks the next run: status reads it, and the same command again has nothing to do.
    const again = await run(undefined)
    const statusRun = spawn(process.execPath, [cliBin, "status", "research", "--tag", tag], { cwd: repo.root, stdio: ["ignore", "pipe", "pipe"] })
    children.push(statusRun)
    let statusOut = ""
    statusRun.stdout!.setEncoding("utf8").on("data", (chunk: string) => (statusOut += chunk))
    const statusCode = await new Promise<number | null>((resolve) => statusRun.on("close", resolve))
    expect(statusCode).toBe(0)
    expect(plain(statusOut)).toContain(`autoresearch/${tag}: ${maxExperiments} experiments`)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`finished: reached max experiments (${maxExperiments})`)
    expect(again.stdout).not.toMatch(/^#\d+ /m)
    expect(readJournal(repo, tag)).toEqual(journal)
    expect(fs.existsSync(path.join(stateDir, "lock"))).toBe(false)
    expect(processesOf(base, token)).toEqual([])
  }, 480_000)
})
