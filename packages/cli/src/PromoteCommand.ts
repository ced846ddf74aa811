/**
 * `autoresearch promote FROM TO`: carries a finished research run's best kept experiment
 * (or `--id N`) into another research directory, for the next phase of a research to
 * build on: its artifacts (`model.pt` unless `--artifact` says otherwise), its mutable
 * files as committed, and `provenance.json`, in `TO/promoted/` (or `--into`).
 */
import { Promote } from "@autoresearch/core"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import { defaultTag, loadConfig } from "./LoadConfig.ts"
import { formatMetric } from "./Table.ts"

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** A path as the user would type it from here: relative below the current directory, else absolute. */
const shown = (file: string) => {
  const relative = path.relative(process.cwd(), file)
  return relative === "" ? "." : relative.startsWith("..") || path.isAbsolute(relative) ? file : relative
}

const size = (bytes: number) =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : bytes < 1024 ** 3
  ? `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  : `${(bytes / 1024 ** 3).toFixed(2)} GiB`

export const promote = Command.make(
  "promote",
  {
    from: Argument.String("from").pipe(Argument.withDescription("The research directory whose run is promoted")),
    to: Argument.String("to").pipe(Argument.withDescription("The research directory to write into (it must exist)")),
    tag: Flag.String("tag").pipe(
      Flag.withDescription("The research run of FROM (branch autoresearch/<tag>); defaults to FROM's name"),
      Flag.optional
    ),
    id: Flag.Int("id").pipe(Flag.withDescription("The experiment to promote (it must be kept); defaults to the best kept one"), Flag.optional),
    artifact: Flag.String("artifact").pipe(
      Flag.withDescription(
        `A file of the experiment's run directory to copy; repeat it for several (default: ${Promote.defaultArtifacts.join(", ")})`
      ),
      Flag.atLeast(0)
    ),
    into: Flag.String("into").pipe(
      Flag.withDescription(`The folder inside TO to write, replaced whole by each promotion (default: ${Promote.defaultInto})`),
      Flag.withDefault(Promote.defaultInto)
    )
  },
  Effect.fnUntraced(function*(input) {
    const from = path.resolve(input.from)
    const { config } = yield* loadConfig(from)
    const tag = Option.getOrElse(input.tag, () => defaultTag(from))
    const summary = yield* Promote.promote({
      from: input.from,
      tag,
      to: input.to,
      config,
      id: Option.getOrUndefined(input.id),
      artifacts: input.artifact.length > 0 ? input.artifact : undefined,
      into: input.into
    })
    const { entry, provenance } = summary
    yield* write(
      `promoted #${entry.id} of ${summary.from.branch}: ${provenance.metric.name} ${formatMetric(provenance.metric.value)} ` +
        `(${provenance.metric.direction === "max" ? "higher" : "lower"} is better) at ${provenance.from.commit.slice(0, 7)}: ${entry.description}\n`
    )
    for (const file of summary.files) {
      yield* write(`wrote ${shown(path.join(summary.into, file.path))} (${size(file.bytes)}${file.path === Promote.provenanceFile ? "" : `, sha256 ${file.sha256.slice(0, 12)}`})\n`)
    }
    if (summary.replaced) yield* write(`replaced the earlier promotion in ${shown(summary.into)} whole\n`)
    yield* write(
      `next: git add ${shown(summary.into)} && git commit: the files are immutable inputs of ${shown(path.resolve(input.to))}'s research, so start a new --tag there\n`
    )
  })
).pipe(
  Command.withDescription("Carry the best kept experiment of a research run into another research directory"),
  Command.withExamples([
    { command: "autoresearch promote examples/lwir-sr examples/lwir-mfsr", description: "Copy the best model.pt, its train.py and provenance into examples/lwir-mfsr/promoted/" },
    { command: "autoresearch promote research next --id 3 --artifact model.json", description: "Promote experiment 3's model.json" }
  ])
)
