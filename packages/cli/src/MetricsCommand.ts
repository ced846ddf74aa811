/**
 * `autoresearch metrics PRED TARGET`: PSNR, SSIM and the sharpness diagnostics of two
 * images or two stacks (.npy, PNG, TIFF), computed as the PSNR-gated scorer computes
 * them; with `--lr`, the bicubic baseline and LR-consistency too. `--json` for scripts.
 */
import { Comparison } from "@autoresearch/metrics"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"

const optionally = <A>(option: Option.Option<A>, key: string) =>
  Option.match(option, { onNone: () => ({}), onSome: (value) => ({ [key]: value }) })

/** JSON has no infinity (identical images have infinite PSNR): non-finite numbers are written as strings. */
const json = (value: unknown) =>
  JSON.stringify(value, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)

export const metrics = Command.make(
  "metrics",
  {
    prediction: Argument.String("pred").pipe(Argument.withDescription("The prediction: an image or a stack (.npy, PNG or TIFF)")),
    target: Argument.String("target").pipe(Argument.withDescription("The ground truth, of the same shape")),
    shave: Flag.Int("shave").pipe(
      Flag.withDescription("Pixels left out on every side before measuring (default: the scale with --lr, as the scorer does; else 0)"),
      Flag.optional
    ),
    dataRange: Flag.Finite("data-range").pipe(
      Flag.withDescription("Distance between the smallest and largest value; images are read into [0, 1]"),
      Flag.withDefault(1)
    ),
    lr: Flag.String("lr").pipe(
      Flag.withDescription("The low-resolution input: adds the bicubic baseline and LR-consistency"),
      Flag.optional
    ),
    scale: Flag.Int("scale").pipe(
      Flag.withDescription("Super-resolution factor, for the energy above the LR Nyquist frequency (implied by --lr)"),
      Flag.optional
    ),
    threads: Flag.Int("threads").pipe(Flag.withDescription("Threads to use (default: one per core for big stacks)"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the numbers as JSON"), Flag.withDefault(false))
  },
  Effect.fnUntraced(function*(input) {
    const result = yield* Comparison.compareFiles(input.prediction, input.target, {
      dataRange: input.dataRange,
      ...optionally(input.shave, "shave"),
      ...optionally(input.lr, "lr"),
      ...optionally(input.scale, "scale"),
      ...optionally(input.threads, "threads")
    })
    yield* Effect.sync(() => process.stdout.write(`${input.json ? json(result) : Comparison.formatComparison(result)}\n`))
  })
).pipe(
  Command.withDescription("Print PSNR, SSIM and sharpness of a prediction against its target (images or stacks)"),
  Command.withExamples([
    { command: "autoresearch metrics run/predictions.npy cache/hidden/hr.npy --shave 4", description: "Score a stack like the scorer does" },
    { command: "autoresearch metrics sr.png hr.png --lr lr.png --json", description: "Two PNGs, with the bicubic baseline, as JSON" }
  ])
)
