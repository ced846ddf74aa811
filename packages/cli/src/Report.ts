/**
 * `autoresearch report`: one self-contained HTML file of a research run, which opens from
 * disk or from an e-mail with no network. The charts (uPlot), the diff renderer (diff2html),
 * the page's own script and style and the data are all inlined, and the page's content
 * security policy forbids every request. The live page of `autoresearch serve` is the
 * same page, fed by the server instead.
 */
import { Command as ShortCommand, type JournalEntry, readJournal, readRegularFile, type Research, SyncedFile } from "@autoresearch/core"
import { Effect } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { reportData, type ReportData } from "./ReportData.ts"
import { readImages, type ReportImages } from "./ReportImages.ts"

/** The tail of one phase's log, as the page shows it. */
export interface LogTail {
  readonly name: string
  readonly tail: string
  readonly truncated: boolean
}

export interface ExperimentDetails {
  /** Unified diff of the research directory against the experiment's parent. */
  readonly diff?: string
  readonly logs: ReadonlyArray<LogTail>
  readonly images?: ReportImages
}

export interface FullReport extends ReportData {
  readonly details: Readonly<Record<number, ExperimentDetails>>
}

const LOG_TAIL_BYTES = 4000
const DIFF_BYTES = 256 * 1024

/** The last bytes of each phase log the entry names, read only inside the run's own directory. */
export const logTails = (entry: JournalEntry, runsDir: string): ReadonlyArray<LogTail> => {
  const own = path.join(runsDir, String(entry.id))
  return (entry.logs ?? []).flatMap((file) => {
    const resolved = path.resolve(own, file)
    if (path.relative(own, resolved).startsWith("..") || path.isAbsolute(path.relative(own, resolved))) return []
    const read = readRegularFile(resolved, LOG_TAIL_BYTES, { fromEnd: true })
    return read._tag === "Text" ? [{ name: path.basename(resolved), tail: read.text, truncated: read.truncated }] : []
  })
}

/** The research directory's diff from an experiment's parent to its commit, bounded; undefined when there is none. */
export const experimentDiff = (where: Pick<Research.ResearchPaths, "repoRoot" | "relative">, entry: JournalEntry) =>
  Effect.gen(function*() {
    if (entry.parent === null || entry.commit === null || entry.parent === entry.commit) return undefined
    const output = yield* ShortCommand.run("git", ["diff", "--no-color", "--no-ext-diff", entry.parent, entry.commit, "--", where.relative || "."], {
      cwd: where.repoRoot,
      maxBytes: DIFF_BYTES,
      timeoutMs: 30_000
    }).pipe(Effect.option)
    if (output._tag === "None" || !ShortCommand.succeeded(output.value)) return undefined
    return output.value.stdout === "" ? undefined : output.value.stdout
  })

/** Everything the page shows of a research run: the summary, the rows, and each experiment's diff, log tails and images. */
export const collect = Effect.fnUntraced(function*(
  where: Research.ResearchPaths,
  options: { readonly tag: string; readonly metric: Parameters<typeof reportData>[1]["metric"] }
) {
  const file = path.join(where.stateDir, "journal.jsonl")
  const { entries } = fs.existsSync(file) ? readJournal(file) : { entries: [] as Array<JournalEntry> }
  const data = reportData(entries, { tag: options.tag, branch: where.branch, metric: options.metric })
  const details: Record<number, ExperimentDetails> = {}
  const diffs = yield* Effect.forEach(entries, (entry) => experimentDiff(where, entry), { concurrency: 4 })
  entries.forEach((entry, k) => {
    // Crops of kept experiments only: the ones worth looking at, and what keeps a long run's report light.
    const images = entry.status === "keep" ? readImages(path.join(where.stateDir, "images"), entry.id) : undefined
    details[entry.id] = {
      ...(diffs[k] === undefined ? {} : { diff: diffs[k] }),
      logs: logTails(entry, where.runsDir),
      ...(images === undefined ? {} : { images })
    }
  })
  return { ...data, details } satisfies FullReport
})

const require = createRequire(import.meta.url)
const asset = (file: string) => fs.readFileSync(new URL(`../assets/${file}`, import.meta.url), "utf8")
const dependency = (specifier: string) => fs.readFileSync(require.resolve(specifier), "utf8")

/** A script's text made safe to inline: nothing in it may close the script element. */
const inlineScript = (source: string) => source.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--")

/** JSON safe inside a script element and in any HTML context. */
export const inlineJson = (value: unknown) =>
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/>/g, "\\u003e").replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

/** The data in two script elements: the summary and rows, read at once, and each experiment's details, read when a row first opens. */
const inlineData = ({ details, ...rest }: FullReport) =>
  `<script id="report-data" type="application/json">${inlineJson(rest)}</script>\n` +
  `<script id="report-details" type="application/json">${inlineJson(details)}</script>`

export const escapeHtml = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;")

/**
 * The page. `live`: the data comes from the server (`data.json`, and `events` for changes),
 * the only requests its policy allows, to the page's own origin; a report allows none.
 */
export const page = (data: FullReport | undefined, options: { readonly live: boolean; readonly title: string }) => {
  const policy = [
    "default-src 'none'",
    "script-src 'unsafe-inline'",
    "style-src 'unsafe-inline'",
    "img-src data:",
    `connect-src ${options.live ? "'self'" : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'"
  ].join("; ")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(options.title)}</title>
<style>${dependency("uplot/dist/uPlot.min.css")}</style>
<style>${dependency("diff2html/bundles/css/diff2html.min.css")}</style>
<style>${asset("report.css")}</style>
</head>
<body data-live="${options.live}">
<div id="summary"></div>
<div id="progress"></div>
<h2>Charts</h2>
<div id="charts"></div>
<h2>Experiments</h2>
<div class="toolbar"><label>status <select id="filter"></select></label><span id="shown" class="muted"></span><span class="muted">click a row for its diff, logs and images; click a column to sort</span></div>
<table id="experiments"></table>
${data === undefined ? "" : inlineData(data)}
<script>${inlineScript(dependency("uplot/dist/uPlot.iife.min.js"))}</script>
<script>${inlineScript(dependency("diff2html/bundles/js/diff2html.min.js"))}</script>
<script>${inlineScript(asset("report.js"))}</script>
</body>
</html>
`
}

/** Collects and writes the report to `out` (a temporary file renamed over it); the data it shows. */
export const writeReport = Effect.fnUntraced(function*(
  where: Research.ResearchPaths,
  options: { readonly tag: string; readonly metric: Parameters<typeof reportData>[1]["metric"]; readonly out: string }
) {
  const data = yield* collect(where, options)
  SyncedFile.replaceSynced(options.out, page(data, { live: false, title: `autoresearch: ${where.branch}` }))
  return data
})
