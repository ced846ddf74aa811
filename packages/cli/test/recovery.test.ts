/**
 * Resume must always resume, and state must never mix: what a killed run leaves (git's
 * lock files, a half-made worktree, refs of experiments the journal lacks) is repaired
 * when the run is opened again; a tag belongs to one research directory; a journal that
 * is gone never lets a new run overwrite the tag's history. Real git, examples/toy; no
 * training, except the one `--fresh` run of the CLI.
 */
import { it } from "@effect/vitest"
import { GitRatchet, type JournalEntry, Journal, LoopEvents, Ratchet, Research, resolveConfig } from "@autoresearch/core"
import { Effect, Stream } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect } from "vitest"
import toyConfig from "../../../examples/toy/autoresearch.config.ts"
import { cliBin, git, readJournal, type ToyRepo, toyRepos } from "./fixtures.ts"

const config = resolveConfig(toyConfig)

const newRepo = toyRepos()

/** Opens the research run (as `run` does, without the loop), runs `use` in it, and returns its result with the repairs it announced. */
const opened = <A = void, E = never>(
  dir: string,
  tag: string,
  use: Effect.Effect<A, E, Ratchet | Journal> = Effect.void as unknown as Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const where = yield* Research.paths(dir, tag)
    return yield* Effect.gen(function*() {
      const events = yield* LoopEvents
      // Replayed to a late subscriber: what opening published, up to this marker.
      yield* events.publish({ _tag: "LoopFinished", reason: "opened", best: undefined })
      const seen = yield* Stream.runCollect(Stream.takeUntil(events.subscribe, (event) => event._tag === "LoopFinished"))
      const repairs = seen.flatMap((event) => (event._tag === "Repaired" ? [event.what] : []))
      return { result: yield* use, repairs, where }
    }).pipe(Effect.scoped, Effect.provide(Research.layer(where, config)))
  })

const commitTrain = (repo: ToyRepo, tag: string, text: string) =>
  Effect.gen(function*() {
    const ratchet = yield* Ratchet
    fs.appendFileSync(path.join(repo.stateDir(tag), "worktree", "research", "train.py"), text)
    const parent = yield* ratchet.head
    return { commit: yield* ratchet.commit(`autoresearch #1: ${text.trim()}`), parent }
  })

const ref = (repo: ToyRepo, name: string) => git(repo.root, "for-each-ref", "--format=%(objectname)", name)

describe("opening a research run repairs what a killed run left", () => {
  it.live("removes git's stale lock files (index, HEAD, the branch's and the tag's refs) unless a live process holds one", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const tag = "locks"
      yield* opened(repo.research, tag)
      // What a git killed mid-commit or mid-update-ref leaves.
      const admin = path.join(repo.root, ".git", "worktrees", "worktree")
      const stale = [
        path.join(admin, "index.lock"),
        path.join(admin, "HEAD.lock"),
        path.join(repo.root, ".git", "refs", "heads", "autoresearch", `${tag}.lock`),
        path.join(repo.root, ".git", "refs", "autoresearch", tag, "discarded", "1.lock")
      ]
      const held = path.join(repo.root, ".git", "refs", "autoresearch", tag, "interrupted", "9-abc.lock")
      for (const file of [...stale, held]) {
        fs.mkdirSync(path.dirname(file), { recursive: true })
        fs.writeFileSync(file, "")
      }
      const holder = spawn("python3", ["-c", "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(60)", held], {
        stdio: ["ignore", "pipe", "ignore"]
      })
      yield* Effect.promise(() => new Promise((resolve) => holder.stdout!.once("data", resolve)))
      try {
        const { result, repairs } = yield* opened(repo.research, tag, Effect.gen(function*() {
          const { commit, parent } = yield* commitTrain(repo, tag, "# a change\n")
          yield* (yield* Ratchet).discard(1, commit, parent)
          return { commit }
        }))
        expect(repairs).toEqual(stale.map((file) => `removed git's stale lock ${file}, left by a git that was killed`))
        expect(fs.existsSync(held)).toBe(true)
        // git works again: the commit and the discard went through.
        expect(ref(repo, `refs/autoresearch/${tag}/discarded/1`)).toBe(result.commit)
      } finally {
        holder.kill("SIGKILL")
      }
    }))

  /** A worktree as a `git worktree add` SIGKILLed before it wrote HEAD leaves it: locked, no HEAD, nothing checked out. */
  const halfMade = (repo: ToyRepo, tag: string) => {
    const worktree = path.join(repo.stateDir(tag), "worktree")
    fs.mkdirSync(repo.stateDir(tag), { recursive: true })
    git(repo.root, "worktree", "add", "-q", "-b", `autoresearch/${tag}`, worktree, "HEAD")
    const admin = fs.readFileSync(path.join(worktree, ".git"), "utf8").replace(/^gitdir: /, "").trim()
    fs.writeFileSync(path.join(admin, "locked"), "initializing\n")
    for (const name of ["HEAD", "index", "ORIG_HEAD", "logs"]) fs.rmSync(path.join(admin, name), { recursive: true, force: true })
    for (const name of fs.readdirSync(worktree)) if (name !== ".git") fs.rmSync(path.join(worktree, name), { recursive: true })
    return worktree
  }

  it.live("rebuilds a worktree that an interrupted `git worktree add` left half-made, and one whose folder was then deleted", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      for (const [tag, deleteFolder] of [["half", false], ["gone", true]] as const) {
        const worktree = halfMade(repo, tag)
        if (deleteFolder) fs.rmSync(worktree, { recursive: true })
        const { repairs } = yield* opened(repo.research, tag)
        expect(repairs, tag).toEqual([`rebuilt the worktree ${worktree}, which an interrupted \`git worktree add\` had left half-made`])
        expect(git(worktree, "rev-parse", "--abbrev-ref", "HEAD")).toBe(`autoresearch/${tag}`)
        expect(git(worktree, "status", "--porcelain")).toBe("")
        expect(fs.existsSync(path.join(worktree, "research", "train.py"))).toBe(true)
        expect(git(repo.root, "worktree", "list", "--porcelain")).not.toContain("locked")
        // Once whole, it is left alone.
        expect((yield* opened(repo.research, tag)).repairs).toEqual([])
      }
    }))

  it.live("sets aside a discarded ref of an experiment the journal does not hold, so that its rerun does not clash", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const tag = "stray"
      // Killed after setting #1 aside and before recording it: the journal holds #0 only.
      const { result } = yield* opened(repo.research, tag, Effect.gen(function*() {
        const journal = yield* Journal
        const ratchet = yield* Ratchet
        const head = yield* ratchet.head
        const now = new Date().toISOString()
        const baseline: JournalEntry = {
          id: 0, parent: null, commit: head, status: "keep", metrics: { val_mse: 0.3 }, reported: {}, flags: [],
          description: "baseline", hypothesis: "", seconds: {}, cost: { inputTokens: 0, outputTokens: 0, cachedTokens: 0, usd: 0 },
          fingerprint: "f", seed: 0, startedAt: now, finishedAt: now
        }
        yield* journal.append(baseline)
        const { commit, parent } = yield* commitTrain(repo, tag, "# the first try\n")
        yield* ratchet.discard(1, commit, parent)
        return commit
      }))
      const { repairs } = yield* opened(repo.research, tag, Effect.gen(function*() {
        const ratchet = yield* Ratchet
        const { commit, parent } = yield* commitTrain(repo, tag, "# the rerun\n")
        yield* ratchet.discard(1, commit, parent)
      }))
      const moved = `refs/autoresearch/${tag}/interrupted/1-${result.slice(0, 12)}`
      expect(repairs).toEqual([`set aside refs/autoresearch/${tag}/discarded/1 as ${moved}: the journal does not hold that experiment`])
      expect(ref(repo, moved)).toBe(result)
      expect(ref(repo, `refs/autoresearch/${tag}/discarded/1`)).not.toBe(result)
    }))
})

describe("state never mixes", () => {
  it.live("a tag belongs to one research directory: another directory of the same name is refused", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      for (const side of ["a", "b"]) fs.cpSync(repo.research, path.join(repo.root, side, "toy"), { recursive: true })
      git(repo.root, "add", "-A")
      git(repo.root, "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "two toys")
      yield* opened(path.join(repo.root, "a", "toy"), "toy")
      const refused = yield* Effect.flip(Research.paths(path.join(repo.root, "b", "toy"), "toy"))
      expect(refused.message).toBe("tag 'toy' is the research run of a/toy, not of b/toy (a tag holds one research directory's state; give this one its own, e.g. --tag b-toy)")
      // a/toy itself opens as before, and b/toy under its own tag.
      yield* opened(path.join(repo.root, "a", "toy"), "toy")
      yield* opened(path.join(repo.root, "b", "toy"), "b-toy")
    }))

  it.live("a lost journal: refs under the tag refuse a new start, no ref is ever overwritten, startOver sets the old run aside", () =>
    Effect.gen(function*() {
      const repo = newRepo()
      const tag = "lost"
      const { result: first } = yield* opened(repo.research, tag, Effect.gen(function*() {
        const { commit, parent } = yield* commitTrain(repo, tag, "# first\n")
        yield* (yield* Ratchet).discard(1, commit, parent)
        return { commit, parent }
      }))
      const discarded = `refs/autoresearch/${tag}/discarded/1`
      expect(ref(repo, discarded)).toBe(first.commit)

      // A ref is never moved: a second discard under the same id is refused and changes nothing.
      const ratchet = GitRatchet.make({ worktree: path.join(repo.stateDir(tag), "worktree"), branch: `autoresearch/${tag}` })
      const clash = yield* Effect.flip(ratchet.discard(1, first.parent, first.parent))
      expect(clash.message).toBe(`git update-ref ${discarded}: refusing to overwrite it: it holds ${first.commit}, not ${first.parent}`)
      expect(ref(repo, discarded)).toBe(first.commit)

      // `git clean -fdx` removes the state folder's files (it is only excluded), the journal with them.
      git(repo.root, "clean", "-fdxq")
      expect(fs.existsSync(path.join(repo.stateDir(tag), "journal.jsonl"))).toBe(false)
      const refused = yield* Effect.flip(opened(repo.research, tag))
      expect(refused.message).toMatch(
        new RegExp(`^the journal of autoresearch/${tag} is missing or empty, but git holds its history: 1 set-aside commit under refs/autoresearch/${tag}/ \\(.*--fresh to start this tag over: --fresh moves the old refs`)
      )
      expect(ref(repo, discarded)).toBe(first.commit)

      const setAside = yield* Research.startOver(yield* Research.paths(repo.research, tag))
      expect(setAside).toMatch(new RegExp(`^1 ref under refs/autoresearch/${tag}/previous/[^/]+/$`))
      const previous = git(repo.root, "for-each-ref", "--format=%(refname) %(objectname)", `refs/autoresearch/${tag}/previous/`)
      expect(previous).toMatch(new RegExp(`^refs/autoresearch/${tag}/previous/[^/]+/discarded/1 ${first.commit}$`))
      expect(ref(repo, discarded)).toBe("")
      yield* opened(repo.research, tag)
    }))
})

describe("autoresearch run --fresh", () => {
  it("is what a run whose journal is gone asks for; it sets the old run aside and starts over", () => {
    const repo = newRepo()
    const tag = "again"
    const cli = (...args: Array<string>) => {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1" }
      delete env.FORCE_COLOR
      const result = spawnSync(process.execPath, [cliBin, "run", "research", "--tag", tag, "--max-experiments", "1", ...args], {
        cwd: repo.root, env, encoding: "utf8", timeout: 120_000
      })
      return { code: result.status, stdout: result.stdout, stderr: result.stderr }
    }
    // The history of a tag whose state folder is gone.
    const old = git(repo.root, "rev-parse", "HEAD")
    git(repo.root, "update-ref", `refs/autoresearch/${tag}/discarded/1`, old)

    const refused = cli()
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`autoresearch: error: the journal of autoresearch/${tag} is missing or empty, but git holds its history: 1 set-aside commit`)
    expect(refused.stderr).toContain("pass --fresh to start this tag over")

    const fresh = cli("--fresh")
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.stdout).toMatch(new RegExp(`^--fresh: set aside the earlier run: 1 ref under refs/autoresearch/${tag}/previous/`, "m"))
    expect(readJournal(repo, tag).map((entry) => entry.status)).toEqual(["keep"])
    expect(git(repo.root, "for-each-ref", "--format=%(objectname)", `refs/autoresearch/${tag}/previous/`)).toBe(old)
  })
})
