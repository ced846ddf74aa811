/**
 * The sandbox a phase runs in, on Linux with bubblewrap: no network, its own PID
 * namespace (so that everything it starts dies with it), the whole filesystem read-only,
 * the run directory and the phase's writable paths writable, a fresh /tmp with a fresh
 * home in it, the user's home directories emptied (what the phase needs in them bound
 * back), and the hidden paths (held-out targets, the repository's .git, the state
 * directory) replaced by empty read-only mounts. The mount plan is a pure function;
 * `probe` says whether bubblewrap works on this machine.
 */
import { Command } from "@autoresearch/core"
import { Effect } from "effect"
import * as path from "node:path"

/** `auto`: sandbox where bubblewrap works, else run unsandboxed with a warning; `required`: refuse without it; `off`: never. */
export type SandboxMode = "auto" | "required" | "off"

/** The phase's temporary directory: a tmpfs of its own, gone when it ends. */
export const phaseTmp = "/tmp"
/** The phase's HOME, inside its /tmp: empty at the start of every phase, so no earlier phase can plant anything there. */
export const phaseHome = "/tmp/home"

export interface SandboxSpec {
  readonly workdir: string
  readonly runDir: string
  /** Paths the phase may read, besides the working directory (which it reads, and never writes). */
  readonly readable: ReadonlyArray<string>
  /** Paths the phase may write besides the run directory. */
  readonly writable: ReadonlyArray<string>
  /** Files inside a writable path that the phase may read but neither change nor replace (the runner's log). */
  readonly readOnly: ReadonlyArray<string>
  /**
   * Home directories (the user's, /root) replaced by an empty read-only tmpfs, unless one
   * of the paths above lies over them; the paths above that lie inside them are bound back.
   */
  readonly homes: ReadonlyArray<string>
  /** Paths no phase may see, as they exist now: a directory or a file. */
  readonly hidden: ReadonlyArray<{ readonly path: string; readonly kind: "directory" | "file" }>
  /** Device nodes passed through, e.g. `/dev/nvidia0`, `/dev/nvidiactl`. */
  readonly devices: ReadonlyArray<string>
}

type Mount =
  | { readonly kind: "read" | "write"; readonly path: string }
  | { readonly kind: "hide"; readonly path: string; readonly directory: boolean }

const depth = (target: string) => target.split(path.sep).filter((part) => part !== "").length

/** `inner` is `outer` or lies below it. */
export const isWithin = (inner: string, outer: string) => {
  const relative = path.relative(outer, inner)
  return relative === "" || (relative !== ".." && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative))
}

/**
 * The mounts in the order bubblewrap must make them: a parent before what lies inside it,
 * so that a hidden directory is masked before an allowed path inside it is bound again,
 * and a hidden path inside an allowed one is masked after it. A hidden path inside a
 * writable grant stays visible: the grant is the trusted loop's explicit word (the
 * prepare phase writes the held-out targets).
 */
export const mounts = (spec: SandboxSpec): Array<Mount> => {
  const grants = new Map<string, "read" | "write">()
  for (const target of [spec.workdir, ...spec.readable]) grants.set(path.resolve(target), "read")
  for (const target of [...spec.writable, spec.runDir]) grants.set(path.resolve(target), "write")
  const writable = [...grants].filter(([, kind]) => kind === "write").map(([target]) => target)
  for (const target of spec.readOnly) grants.set(path.resolve(target), "read")
  const homes = spec.homes
    .map((home) => path.resolve(home))
    .filter((home) => depth(home) > 0 && ![...grants.keys()].some((target) => isWithin(home, target)))
    .map((home) => ({ kind: "hide" as const, path: home, directory: true }))
  const candidates = [
    ...spec.hidden
      .map((entry) => ({ kind: "hide" as const, path: path.resolve(entry.path), directory: entry.kind === "directory" }))
      .filter((entry) => !writable.some((target) => isWithin(entry.path, target))),
    ...homes
  ].filter((entry, index, all) => all.findIndex((other) => other.path === entry.path) === index)
  // A hidden path inside another one is already gone, unless an allowed path between them brings it back;
  // masking it again would leave an empty mount point where nothing should be.
  const hides = candidates.filter((entry) => {
    const enclosing = [
      ...[...grants.keys()].filter((target) => isWithin(entry.path, target)).map((target) => ({ target, hide: false })),
      ...candidates.filter((other) => other.path !== entry.path && isWithin(entry.path, other.path))
        .map((other) => ({ target: other.path, hide: true }))
    ].sort((a, b) => depth(b.target) - depth(a.target) || Number(b.hide) - Number(a.hide))
    return enclosing[0]?.hide !== true
  })
  const all: Array<Mount> = [...[...grants].map(([target, kind]) => ({ kind, path: target })), ...hides]
  const rank = (mount: Mount) => (mount.kind === "hide" ? 1 : 0)
  return all
    .map((mount, order) => ({ mount, order }))
    .sort((a, b) => depth(a.mount.path) - depth(b.mount.path) || rank(a.mount) - rank(b.mount) || a.order - b.order)
    .map(({ mount }) => mount)
}

/**
 * bubblewrap's arguments for a phase, up to and including the `--` before its command.
 * `dropCapabilities` is for a runner that runs as root, whose sandbox would otherwise keep
 * every capability: enough to mount a cgroup file system and leave the phase's cgroup.
 */
export const bwrapArgs = (
  spec: SandboxSpec,
  options: { readonly infoFd?: number; readonly dropCapabilities?: boolean } = {}
): Array<string> => {
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    phaseTmp,
    "--dir",
    phaseHome
  ]
  for (const device of spec.devices) args.push("--dev-bind-try", device, device)
  const plan = mounts(spec)
  for (const mount of plan) {
    if (mount.kind === "read") args.push("--ro-bind-try", mount.path, mount.path)
    else if (mount.kind === "write") args.push("--bind-try", mount.path, mount.path)
    else if (mount.kind === "hide" && mount.directory) args.push("--tmpfs", mount.path)
    else args.push("--ro-bind", "/dev/null", mount.path)
  }
  if (options.dropCapabilities === true) args.push("--cap-drop", "ALL")
  // Made read-only last, once the allowed paths inside them have their mount points.
  for (const mount of plan) if (mount.kind === "hide" && mount.directory) args.push("--remount-ro", mount.path)
  args.push("--chdir", path.resolve(spec.workdir))
  if (options.infoFd !== undefined) args.push("--info-fd", String(options.infoFd))
  args.push("--")
  return args
}

export type Probe =
  | { readonly available: true; readonly bwrap: string; readonly version: string }
  | { readonly available: false; readonly bwrap: string; readonly reason: string }

/** Whether bubblewrap runs here with the namespaces the sandbox needs. */
export const probe = (bwrap = "bwrap"): Effect.Effect<Probe> =>
  Effect.gen(function*() {
    if (process.platform !== "linux") return { available: false, bwrap, reason: `bubblewrap needs Linux, not ${process.platform}` } as const
    const trial = yield* Command.run(
      bwrap,
      ["--die-with-parent", "--unshare-all", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", "true"],
      { timeoutMs: 15_000 }
    ).pipe(Effect.result)
    if (trial._tag === "Failure" || !Command.succeeded(trial.success)) {
      const reason = trial._tag === "Failure"
        ? trial.failure.code === "ENOENT" ? `${bwrap} not found` : `${bwrap} cannot start: ${trial.failure.code}`
        : `${bwrap} cannot create namespaces here: ${
          trial.success.stderr.trim().split("\n").at(-1) ||
          (trial.success.killed ? "timed out" : `exit code ${trial.success.exitCode ?? trial.success.signal}`)
        }`
      return { available: false, bwrap, reason } as const
    }
    const version = yield* Command.run(bwrap, ["--version"], { timeoutMs: 15_000 }).pipe(
      Effect.map((output) => output.stdout.trim()),
      Effect.orElseSucceed(() => "")
    )
    return { available: true, bwrap, version: version || "bubblewrap" } as const
  })
