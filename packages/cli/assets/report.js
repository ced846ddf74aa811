// The page of `autoresearch report` and `autoresearch serve`: the summary, the charts (uPlot),
// the experiments table with each row's diff (diff2html) and log tails, and the image panel.
// It reads the report's data from the page itself (a report file) or from the server (the
// live page, which also listens for changes). Text from the run is always set as text.
/* global uPlot, Diff2Html */
"use strict"

const STATUS_COLOURS = {
  keep: "#1a9850",
  discard: "#8c8c8c",
  crash: "#d73027",
  timeout: "#f46d43",
  oom: "#9e0142",
  invalid: "#7b3294"
}
const PHASE_COLOURS = ["#4575b4", "#91bfdb", "#fdae61", "#d73027", "#7b3294", "#1a9850", "#8c8c8c"]
const STATUSES = Object.keys(STATUS_COLOURS)

const live = document.body.dataset.live === "true"
const state = { data: null, sort: { key: "id", ascending: true }, filter: "all", open: new Set(), charts: [] }
window.report = state

const el = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value)
    else node.setAttribute(name, value)
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child)
  return node
}

const fixed = (value, digits = 4) => (value === null || value === undefined ? "-" : Number(value).toFixed(digits))
const signed = (value, digits = 4) => (value === null || value === undefined ? "-" : (value >= 0 ? "+" : "") + Number(value).toFixed(digits))
const seconds = (value) => (value === undefined ? "-" : value >= 3600 ? `${(value / 3600).toFixed(1)} h` : value >= 60 ? `${(value / 60).toFixed(1)} min` : `${value.toFixed(1)} s`)

function renderSummary(data) {
  const s = data.summary
  const box = document.getElementById("summary")
  box.replaceChildren()
  const item = (label, value, id) => el("div", { class: "stat", ...(id ? { "data-stat": id } : {}) }, el("div", { class: "label", text: label }), el("div", { class: "value", text: value }))
  const direction = s.metric.direction === "max" ? "higher is better" : "lower is better"
  box.append(
    el("h1", { text: `${s.branch}: ${s.experiments} experiment${s.experiments === 1 ? "" : "s"}` }),
    el("div", { class: "stats" },
      item(`best ${s.metric.name} (${direction})`, s.best ? `${fixed(s.best.value)} (#${s.best.id})` : "none kept yet", "best"),
      item("gain over the baseline", signed(s.gainOverBaseline), "gain-baseline"),
      item(s.gate ? `gain over ${s.gate.name}` : "gain over the gate", s.gate ? signed(s.gainOverGate) : "no gate", "gain-gate"),
      item("keep rate", s.keepRate === null ? "-" : `${(100 * s.keepRate).toFixed(0)} % (${s.kept} kept)`, "keep-rate"),
      item("total cost", `$${s.costUsd.toFixed(2)}`, "cost"),
      item("experiments per hour", s.experimentsPerHour === null ? "-" : s.experimentsPerHour.toFixed(1), "pace"),
      s.throughput
        ? item("best's throughput", `${s.throughput.samplesPerSecond.toFixed(0)} samples/s` +
          (s.throughput.mfu !== null ? `, ${(100 * s.throughput.mfu).toFixed(1)} % MFU` : s.throughput.tflops !== null ? `, ${s.throughput.tflops.toFixed(2)} TFLOP/s` : ""), "throughput")
        : null),
    s.best && s.best.commit
      ? el("p", { class: "checkout" }, "best commit ", el("code", { text: s.best.commit }), ": ", el("code", { text: s.best.checkout }))
      : null
  )
}

function chartBox(id, title) {
  const box = el("figure", { class: "chart", id }, el("figcaption", { text: title }))
  document.getElementById("charts").append(box)
  return box
}

function pointsSeries(label, colour) {
  return { label, stroke: colour, fill: colour, paths: () => null, points: { show: true, size: 9, stroke: colour, fill: colour } }
}

function renderCharts(data) {
  for (const chart of state.charts) chart.destroy()
  state.charts = []
  document.getElementById("charts").replaceChildren()
  const rows = data.experiments
  const s = data.summary
  const width = Math.min(560, Math.max(320, (document.getElementById("charts").clientWidth || 1100) / 2 - 24))
  const size = { width, height: 260 }
  const ids = rows.map((row) => row.id)

  // 1. The metric per experiment, by status; the running best; the gate.
  {
    const series = [{ label: "experiment" }]
    const columns = [ids]
    for (const status of STATUSES) {
      if (!rows.some((row) => row.status === status && row.value !== null)) continue
      series.push(pointsSeries(status, STATUS_COLOURS[status]))
      columns.push(rows.map((row) => (row.status === status ? row.value : null)))
    }
    series.push({ label: "best so far", stroke: "#1a9850", width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } })
    columns.push(rows.map((row) => row.best))
    if (s.gate) {
      series.push({ label: s.gate.name, stroke: "#d73027", dash: [6, 4], width: 1.5, points: { show: false } })
      columns.push(rows.map(() => s.gate.value))
    }
    const box = chartBox("chart-metric", `${s.metric.name} per experiment`)
    const chart = new uPlot({ ...size, scales: { x: { time: false } }, series, axes: [{ label: "experiment" }, { label: s.metric.name, size: 70 }] }, columns, box)
    box.dataset.points = String(rows.filter((row) => row.value !== null).length)
    state.charts.push(chart)
  }

  // 2. The secondary metric against the primary, with its drops marked.
  if (s.secondary) {
    const scored = rows.filter((row) => row.value !== null && row.secondary !== null).sort((a, b) => a.value - b.value)
    const dropped = (row) => row.flags.some((flag) => flag.includes("drop"))
    const box = chartBox("chart-secondary", `${s.secondary} against ${s.metric.name}`)
    const chart = new uPlot({
      ...size,
      scales: { x: { time: false } },
      series: [{ label: s.metric.name }, pointsSeries("experiment", "#4575b4"), pointsSeries(`${s.secondary.replace(/^val_/, "")}-drop`, "#d73027")],
      axes: [{ label: s.metric.name }, { label: s.secondary, size: 70 }]
    }, [scored.map((row) => row.value), scored.map((row) => (dropped(row) ? null : row.secondary)), scored.map((row) => (dropped(row) ? row.secondary : null))], box)
    box.dataset.points = String(scored.length)
    state.charts.push(chart)
  }

  // 3. Cumulative cost and wall time.
  {
    let cost = 0
    const first = rows.length > 0 ? Date.parse(rows[0].startedAt) : 0
    const box = chartBox("chart-cost", "cumulative cost and wall time")
    const chart = new uPlot({
      ...size,
      scales: { x: { time: false }, usd: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] }, hours: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
      series: [
        { label: "experiment" },
        { label: "cost (USD)", scale: "usd", stroke: "#7b3294", width: 2 },
        { label: "wall time (h)", scale: "hours", stroke: "#4575b4", width: 2 }
      ],
      axes: [{ label: "experiment" }, { scale: "usd", label: "USD", size: 60 }, { scale: "hours", side: 1, label: "hours", size: 60, grid: { show: false } }]
    }, [ids, rows.map((row) => (cost += row.costUsd)), rows.map((row) => (Date.parse(row.finishedAt) - first) / 3600000)], box)
    box.dataset.points = String(rows.length)
    state.charts.push(chart)
  }

  // 4. Time per experiment by phase, stacked: where the wall time goes.
  {
    const known = ["propose", "apply", "commit", "prepare", "train", "predict", "seal", "score", "keep", "discard"]
    const phases = [...new Set(rows.flatMap((row) => Object.keys(row.seconds).filter((name) => name !== "total")))]
      .sort((a, b) => (known.indexOf(a) + 1 || 99) - (known.indexOf(b) + 1 || 99))
    const stacks = []
    let running = rows.map(() => 0)
    for (const phase of phases) {
      running = rows.map((row, k) => running[k] + (row.seconds[phase] || 0))
      stacks.push(running)
    }
    const series = [{ label: "experiment" }]
    const columns = [ids]
    // Drawn from the tallest stack down, so each phase's bar shows above the ones before it.
    for (let k = phases.length - 1; k >= 0; k--) {
      const colour = PHASE_COLOURS[k % PHASE_COLOURS.length]
      series.push({ label: phases[k], stroke: colour, fill: colour, paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } })
      columns.push(stacks[k])
    }
    const box = chartBox("chart-phases", "seconds per experiment, by phase")
    const fromZero = { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] }
    const chart = new uPlot({ ...size, scales: { x: { time: false }, y: fromZero }, series, axes: [{ label: "experiment" }, { label: "seconds", size: 60 }] }, columns, box)
    box.dataset.points = String(rows.length)
    state.charts.push(chart)
  }
}

const COLUMNS = [
  ["id", "id", (row) => row.id],
  ["status", "status", (row) => row.status],
  ["flags", "flags", (row) => row.flags.join(", ")],
  ["value", null, (row) => row.value],
  ["delta", "delta", (row) => row.delta],
  ["description", "description", (row) => row.description],
  ["hypothesis", "hypothesis", (row) => row.hypothesis],
  ["cost", "cost", (row) => row.costUsd],
  ["time", "time", (row) => row.seconds.total]
]

function renderTable(data) {
  const table = document.getElementById("experiments")
  const metric = data.summary.metric.name
  const header = el("tr")
  for (const [key, title] of COLUMNS) {
    const arrow = state.sort.key === key ? (state.sort.ascending ? " ▲" : " ▼") : ""
    header.append(el("th", {
      "data-key": key,
      text: (title ?? metric) + arrow,
      onclick: () => {
        state.sort = { key, ascending: state.sort.key === key ? !state.sort.ascending : true }
        renderTable(state.data)
      }
    }))
  }
  const get = COLUMNS.find(([key]) => key === state.sort.key)[2]
  const rows = data.experiments
    .filter((row) => state.filter === "all" || row.status === state.filter)
    .slice()
    .sort((a, b) => {
      const x = get(a), y = get(b)
      const order = x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : x > y ? 1 : 0
      return state.sort.ascending ? order : -order
    })
  const body = el("tbody")
  for (const row of rows) {
    const tr = el("tr", { class: `row status-${row.status}`, "data-id": String(row.id), onclick: () => toggle(row.id) },
      el("td", { text: String(row.id) }),
      el("td", {}, el("span", { class: "badge", style: `background:${STATUS_COLOURS[row.status] || "#444"}`, text: row.status })),
      el("td", { text: row.flags.join(", ") }),
      el("td", { class: "num", text: fixed(row.value) }),
      el("td", { class: "num", text: signed(row.delta) }),
      el("td", { text: row.description }),
      el("td", { class: "hypothesis", text: row.hypothesis }),
      el("td", { class: "num", text: `$${row.costUsd.toFixed(3)}` }),
      el("td", { class: "num", text: seconds(row.seconds.total) }))
    body.append(tr)
    if (state.open.has(row.id)) body.append(details(row))
  }
  table.replaceChildren(el("thead", {}, header), body)
  document.getElementById("shown").textContent = `${rows.length} of ${data.experiments.length} shown`
}

function toggle(id) {
  if (state.open.has(id)) state.open.delete(id)
  else state.open.add(id)
  renderTable(state.data)
}

function details(row) {
  if (state.data.details === undefined) {
    // A report file keeps the details apart, parsed on the first row opened: a long run's report opens faster.
    const element = document.getElementById("report-details")
    state.data.details = element ? JSON.parse(element.textContent) : {}
  }
  const extra = state.data.details[row.id] || {}
  const cell = el("td", { colspan: String(COLUMNS.length) })
  if (row.reason) cell.append(el("p", {}, el("b", { text: "reason: " }), el("span", { text: row.reason })))
  cell.append(el("p", {}, el("b", { text: "commit: " }), el("code", { text: row.commit || "-" }), el("span", { text: "  parent: " }), el("code", { text: row.parent || "-" })))
  const reported = Object.entries(row.reported)
  if (reported.length > 0) cell.append(el("p", {}, el("b", { text: "reported: " }), el("span", { text: reported.map(([k, v]) => `${k} ${v}`).join(", ") })))
  if (extra.diff) {
    const box = el("div", { class: "diff" })
    // diff2html escapes the diff's text itself.
    box.innerHTML = Diff2Html.html(extra.diff, { drawFileList: false, outputFormat: "line-by-line", matching: "lines" })
    cell.append(el("h4", { text: "diff against its parent" }), box)
  } else {
    cell.append(el("p", { class: "muted", text: row.id === 0 ? "the baseline: no diff" : "no diff (the proposal never became a commit)" }))
  }
  for (const log of extra.logs || []) {
    cell.append(el("h4", { text: `${log.name} (last ${log.tail.length} characters${log.truncated ? " of more" : ""})` }), el("pre", { class: "log", text: log.tail }))
  }
  if (extra.images) cell.append(imagePanel(extra.images))
  return el("tr", { class: "details", "data-details": String(row.id) }, cell)
}

// Images: every panel in the same false-colour value range, an error map under each, a
// toggle that compares two panels in place, and a zoom.
function imagePanel(images) {
  const box = el("div", { class: "images" })
  box.append(el("h4", { text: `${images.title} (false colour, ${images.range})` }))
  for (const crop of images.crops) {
    const grid = el("div", { class: "panel" })
    for (const panel of crop.panels) {
      const figure = el("figure", {},
        el("img", { src: panel.image, alt: panel.name, class: "zoomable", onclick: (event) => event.currentTarget.classList.toggle("zoomed") }),
        panel.error ? el("img", { src: panel.error, alt: `${panel.name} error`, class: "error zoomable", onclick: (event) => event.currentTarget.classList.toggle("zoomed") }) : null,
        el("figcaption", { text: panel.name + (panel.psnr === undefined ? "" : ` ${panel.psnr.toFixed(2)} dB`) }))
      grid.append(figure)
    }
    const names = crop.panels.map((panel) => panel.name)
    const a = el("select", {}, ...names.map((name) => el("option", { text: name })))
    const b = el("select", {}, ...names.map((name) => el("option", { text: name })))
    b.selectedIndex = Math.max(0, names.length - 1)
    const shown = el("img", { class: "compare zoomable", alt: "compare", onclick: (event) => event.currentTarget.classList.toggle("zoomed") })
    let showingA = true
    const update = () => { shown.src = crop.panels[showingA ? a.selectedIndex : b.selectedIndex].image; label.textContent = showingA ? a.value : b.value }
    const label = el("span", { class: "muted" })
    a.onchange = update
    b.onchange = update
    const flip = el("button", { text: "toggle", onclick: (event) => { event.stopPropagation(); showingA = !showingA; update() } })
    update()
    box.append(el("p", { class: "muted", text: crop.name }), grid, el("div", { class: "compare-box" }, "compare ", a, " with ", b, " ", flip, " ", label, el("br"), shown))
  }
  return box
}

function renderFilter(data) {
  const select = document.getElementById("filter")
  const counts = data.summary.counts
  select.replaceChildren(el("option", { value: "all", text: `all (${data.experiments.length})` }),
    ...STATUSES.filter((status) => counts[status]).map((status) => el("option", { value: status, text: `${status} (${counts[status]})` })))
  select.value = state.filter
  select.onchange = () => { state.filter = select.value; renderTable(state.data) }
}

function renderProgress(progress) {
  const box = document.getElementById("progress")
  if (!box) return
  if (!progress || progress.running === false) {
    const last = progress && progress.phase ? ` (last seen: #${progress.id} ${progress.phase})` : ""
    box.replaceChildren(el("span", { class: "muted", "data-running": "false", text: `no run is going now${last}; the page updates when one resumes` }))
    return
  }
  // Parallel workers: a line per experiment in flight.
  const inFlight = Array.isArray(progress.inFlight) && progress.inFlight.length > 1 ? progress.inFlight : [progress]
  box.replaceChildren(...inFlight.map((item) => el("div", { class: "in-flight" }, ...progressLine(item, progress.budgetSeconds))))
}

function progressLine(item, budgetSeconds) {
  if (!item.phase) {
    return [el("span", { class: "muted", "data-running": "true", text: item.id === null ? "starting" : `#${item.id}: between phases` })]
  }
  const elapsed = (Date.now() - Date.parse(item.startedAt)) / 1000
  const budget = item.phase === "train" ? budgetSeconds : undefined
  const bar = el("progress", { max: String(budget || 1), value: String(budget ? Math.min(elapsed, budget) : 0) })
  const left = budget ? (elapsed <= budget ? `, ${seconds(budget - elapsed)} left` : `, over by ${seconds(elapsed - budget)}`) : ""
  return [el("span", { "data-running": "true", text: `#${item.id} ${item.phase} ${seconds(elapsed)}${budget ? ` of ${seconds(budget)}` : ""}${left} ` }), bar]
}

function render(data) {
  state.data = data
  renderSummary(data)
  renderCharts(data)
  renderFilter(data)
  renderTable(data)
  document.body.dataset.experiments = String(data.experiments.length)
}

async function refresh() {
  const response = await fetch("data.json", { cache: "no-store" })
  render(await response.json())
}

if (live) {
  let progress = null
  refresh()
  const source = new EventSource("events")
  source.addEventListener("journal", () => refresh())
  source.addEventListener("progress", (event) => { progress = JSON.parse(event.data); renderProgress(progress) })
  setInterval(() => renderProgress(progress), 1000)
} else {
  render(JSON.parse(document.getElementById("report-data").textContent))
}
