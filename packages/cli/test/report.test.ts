/**
 * `autoresearch report` and `autoresearch serve` on a real toy run (the bundled replay
 * candidates: a keep, a discard, a crash and a keep), checked as files and over HTTP, and
 * in a real browser: Debian's chromium driven by playwright-core, no DOM mock. Where no
 * chromium is installed the browser tests skip and say so, except in CI as root, where
 * `./dev` installs it and a missing browser fails.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Image, Resize } from "@autoresearch/metrics"
import { writeCrops } from "../../metrics/src/Crops.ts"
import { cliBin, makeToyRepo, plain, readJournal, type ToyRepo, toyDir } from "./fixtures.ts"

/** Set for the run and the server: nothing either shows may contain it. */
const apiKey = "sk-ant-report-test-never-shown"
const env = (): NodeJS.ProcessEnv => {
  const value: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", CI: "1", ANTHROPIC_API_KEY: apiKey }
  delete value.FORCE_COLOR
  return value
}
const cli = (args: ReadonlyArray<string>, cwd: string) =>
  plain(execFileSync(process.execPath, [cliBin, ...args], { cwd, env: env(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 }))

let repo: ToyRepo
let stateDir: string
let runOutput: string
const tag = "t"

/** Starts `autoresearch serve` on a free port; resolves with its URL once it prints it. */
const startServe = (extra: ReadonlyArray<string> = []) =>
  new Promise<{ readonly url: string; readonly child: ChildProcess }>((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, "serve", "research", "--tag", tag, "--port", "0", ...extra], {
      cwd: repo.root,
      env: env(),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`serve printed no URL: ${out} ${err}`)), 30_000)
    child.stderr!.on("data", (chunk) => (err += chunk))
    child.stdout!.on("data", (chunk) => {
      out += chunk
      const match = /(http:\/\/[^\s]+\/)/.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve({ url: match[1]!, child })
      }
    })
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}: ${out} ${err}`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

beforeAll(() => {
  repo = makeToyRepo()
  stateDir = repo.stateDir(tag)
  runOutput = cli(["run", "research", "--proposer", "replay", "--replay-dir", path.join(toyDir, "candidates"), "--tag", tag, "--serve", "--port", "0"], repo.root)
}, 180_000)

afterAll(() => repo?.cleanup())

describe("autoresearch report", () => {
  it("every run ends with its report; run --serve serves the live page while it goes", () => {
    expect(runOutput).toMatch(/^live page: http:\/\/127\.0\.0\.1:\d+\/$/m)
    expect(runOutput).toContain(`report: .autoresearch/${tag}/report.html`)
    expect(fs.readFileSync(path.join(stateDir, "report.html"), "utf8")).toContain('<script id="report-data"')
  })

  it("writes one self-contained HTML file whose policy forbids every request", () => {
    const out = path.join(repo.root, "report.html")
    const printed = cli(["report", "research", "--tag", tag, "--out", out], repo.root)
    expect(printed).toContain("report: report.html (5 experiments")
    const html = fs.readFileSync(out, "utf8")
    expect(html).toMatch(/<meta http-equiv="Content-Security-Policy" content="default-src 'none';[^"]*connect-src 'none'/)
    // Nothing is loaded from anywhere: no element names an outside resource.
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?\/\//i)
    const data = {
      ...JSON.parse(/<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!),
      details: JSON.parse(/<script id="report-details" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!)
    }
    expect(data.experiments.map((row: { status: string }) => row.status)).toEqual(["keep", "keep", "discard", "crash", "keep"])
    expect(data.summary.best.id).toBe(4)
    // Each candidate that became a commit has its diff against its parent, and the crash its log.
    expect(data.details[1].diff).toContain("+DEGREE = 5")
    expect(data.details[0].diff).toBeUndefined()
    expect(data.details[3].logs.map((log: { name: string }) => log.name)).toContain("train.log")
  })

  it("escapes what the run wrote: a log that closes the script element stays text", () => {
    const log = path.join(stateDir, "runs", "3", "train.log")
    const original = fs.readFileSync(log, "utf8")
    fs.appendFileSync(log, "\n</script><img src=x onerror=alert(1)> & \u2028\n")
    try {
      const out = path.join(repo.root, "escaped.html")
      cli(["report", "research", "--tag", tag, "--out", out], repo.root)
      const html = fs.readFileSync(out, "utf8")
      expect(html).not.toContain("<img src=x")
      const details = JSON.parse(/<script id="report-details" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!)
      expect(details[3].logs[0].tail).toContain("</script><img src=x onerror=alert(1)> & \u2028")
    } finally {
      fs.writeFileSync(log, original)
    }
  })

  it("--json prints the summary for scripts", () => {
    const summary = JSON.parse(cli(["report", "research", "--tag", tag, "--json"], repo.root))
    const journal = readJournal(repo, tag)
    expect(summary.experiments).toBe(5)
    expect(summary.kept).toBe(2)
    expect(summary.keepRate).toBe(0.5)
    expect(summary.metric).toEqual({ name: "val_mse", direction: "min" })
    expect(summary.best.value).toBe(journal[4]!.metrics.val_mse)
    expect(summary.gainOverBaseline).toBeCloseTo(journal[0]!.metrics.val_mse - journal[4]!.metrics.val_mse, 12)
    expect(summary.best.checkout).toBe(`git checkout ${journal[4]!.commit}`)
    expect(summary.counts).toEqual({ keep: 3, discard: 1, crash: 1 })
  })

  it("says so when the run does not exist", () => {
    let error = ""
    try {
      cli(["report", "research", "--tag", "nothing-here"], repo.root)
    } catch (caught) {
      error = plain(String((caught as { stderr?: string }).stderr ?? caught))
    }
    expect(error).toContain("no research run 'nothing-here' yet")
  })
})

describe("autoresearch serve", () => {
  let served: { readonly url: string; readonly child: ChildProcess }
  beforeAll(async () => {
    served = await startServe()
  }, 60_000)
  afterAll(() => stop(served.child))

  it("binds to 127.0.0.1 and serves the page, its data and the run's logs", async () => {
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const pageText = await (await fetch(served.url)).text()
    expect(pageText).toContain(`data-live="true"`)
    expect(pageText).toContain("connect-src 'self'")
    const data = await (await fetch(new URL("data.json", served.url))).json() as { experiments: Array<unknown> }
    expect(data.experiments).toHaveLength(5)
    const log = await fetch(new URL("runs/3/train.log", served.url))
    expect(log.status).toBe(200)
    expect(await log.text()).toBe(fs.readFileSync(path.join(stateDir, "runs", "3", "train.log"), "utf8"))
  })

  it("never shows an API key or the hidden targets", async () => {
    const hiddenTargets = fs.readFileSync(path.join(stateDir, "cache", "hidden", "y.json"), "utf8")
    const shown = [
      await (await fetch(served.url)).text(),
      await (await fetch(new URL("data.json", served.url))).text(),
      ...await Promise.all(["0", "1", "2", "3", "4"].map(async (id) => (await fetch(new URL(`runs/${id}/train.log`, served.url))).text()))
    ].join("\n")
    expect(shown).not.toContain(apiKey)
    expect(shown).not.toContain(hiddenTargets.trim().slice(0, 40))
    expect(fs.readFileSync(path.join(stateDir, "report.html"), "utf8")).not.toContain(apiKey)
  })

  it("is read-only", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const response = await fetch(new URL("data.json", served.url), { method, body: method === "DELETE" ? null : "{}" })
      expect(response.status, method).toBe(405)
    }
  })

  it("serves nothing outside the run's logs: .., encoded .., other files, links", async () => {
    const hidden = path.join(stateDir, "cache", "hidden")
    fs.mkdirSync(hidden, { recursive: true })
    fs.writeFileSync(path.join(hidden, "secret.log"), "hidden target\n")
    // A link planted in a run folder, to a file and to a folder outside.
    fs.symlinkSync(path.join(hidden, "secret.log"), path.join(stateDir, "runs", "1", "planted.log"))
    fs.symlinkSync(hidden, path.join(stateDir, "runs", "77"))
    const refused = [
      "runs/0/../../journal.jsonl",
      "runs/0/..%2f..%2fjournal.jsonl",
      "runs/%2e%2e/cache/hidden/secret.log",
      "runs/0/%2e%2e%2f%2e%2e%2fcache%2fhidden%2fsecret.log",
      "runs/1/planted.log",
      "runs/77/secret.log",
      "journal.jsonl",
      "cache/hidden/secret.log",
      "runs/0/train.py",
      "..%2f..%2f..%2fetc%2fpasswd"
    ]
    for (const route of refused) {
      // Sent as written: fetch would resolve a plain `..` itself.
      const response = await rawGet(served.url, `/${route}`)
      expect(response.status, route).toBe(404)
      expect(response.body, route).not.toContain("hidden target")
    }
  })
})

/** A GET with the path exactly as given (no client-side normalisation). */
const rawGet = (base: string, route: string) =>
  new Promise<{ readonly status: number; readonly body: string }>((resolve, reject) => {
    const url = new URL(base)
    import("node:http").then(({ request }) => {
      const req = request({ host: url.hostname, port: url.port, path: route, method: "GET" }, (response) => {
        let body = ""
        response.setEncoding("utf8").on("data", (chunk) => (body += chunk)).on("end", () => resolve({ status: response.statusCode ?? 0, body }))
      })
      req.on("error", reject)
      req.end()
    }, reject)
  })

// ---------------------------------------------------------------------------
// In a real browser

const chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((file) => fs.existsSync(file))
const mustRun = process.env.CI !== undefined && process.getuid?.() === 0
if (chromiumPath === undefined && !mustRun) {
  console.log("browser tests skipped: no chromium installed (Debian: apt-get install chromium; ./dev installs it as root)")
}

describe.skipIf(chromiumPath === undefined && !mustRun)("in a real browser (chromium)", () => {
  let browser: import("playwright-core").Browser
  beforeAll(async () => {
    if (chromiumPath === undefined) throw new Error("no chromium installed, and CI as root must run the browser tests (./dev installs it with apt)")
    const { chromium } = await import("playwright-core")
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] })
  }, 60_000)
  afterAll(() => browser?.close())

  /** A page that records console errors, page errors and every request made. */
  const open = async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: Array<string> = []
    const requests: Array<string> = []
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text())
    })
    page.on("pageerror", (error) => errors.push(String(error)))
    page.on("request", (request) => requests.push(request.url()))
    return { page, errors, requests }
  }

  it("the report renders one point and one row per experiment, with no console error and no request", async () => {
    const out = path.join(repo.root, "browser.html")
    cli(["report", "research", "--tag", tag, "--out", out], repo.root)
    const { page, errors, requests } = await open()
    const file = `file://${out}`
    await page.goto(file)
    await page.waitForSelector("#experiments tbody tr.row")
    expect(await page.locator("#experiments tbody tr.row").count()).toBe(5)
    // The metric chart plots every scored experiment (the crash has no value).
    const scored = readJournal(repo, tag).filter((entry) => entry.metrics.val_mse !== undefined).length
    expect(await page.getAttribute("#chart-metric", "data-points")).toBe(String(scored))
    const plotted = await page.evaluate(() => {
      const chart = (globalThis as unknown as { report: { charts: Array<{ data: Array<Array<number | null>>; series: Array<{ label: string }> }> } }).report.charts[0]!
      return chart.series.slice(1).filter((series) => ["keep", "discard", "crash", "timeout", "oom", "invalid"].includes(series.label))
        .reduce((total, _series, k) => total + chart.data[k + 1]!.filter((value) => value !== null).length, 0)
    })
    expect(plotted).toBe(scored)
    expect(await page.locator("#charts canvas").count()).toBeGreaterThanOrEqual(3)
    // A row opens its diff (rendered by diff2html) and its log; the filter narrows the rows.
    await page.click('#experiments tr.row[data-id="1"]')
    await page.waitForSelector('tr.details[data-details="1"] .d2h-wrapper')
    await page.selectOption("#filter", "keep")
    expect(await page.locator("#experiments tbody tr.row").count()).toBe(3)
    await page.click('#experiments th[data-key="value"]')
    const values = await page.locator("#experiments tbody tr.row td:nth-child(4)").allTextContents()
    expect(values.map(Number)).toEqual([...values.map(Number)].sort((a, b) => a - b))
    expect(errors).toEqual([])
    expect(requests).toEqual([file])
    await page.close()
  })

  it("the image panel's images decode: LR input, bicubic, the model, the baseline, the target, and their error maps", async () => {
    // The crops the PSNR-gated scorer keeps, for the baseline and the best (the toy's scorer keeps none).
    const [count, height, width] = [2, 64, 64]
    const target = Image.stack(count, height, width)
    for (let i = 0; i < target.data.length; i++) target.data[i] = 0.4 + 0.3 * Math.sin(i * 0.05) * Math.cos(i * 0.0031)
    const low = { stack: Resize.resizeStack(target, height / 4, width / 4), scale: 4 }
    for (const id of [0, 4]) {
      const prediction = Image.stack(count, height, width, target.data.map((v, i) => v + 0.02 * (id === 0 ? 2 : 1) * Math.sin(i)))
      writeCrops(stateDir, String(id), prediction, { target, low, dataKey: "browser-test" }, { crops: 2, dataRange: 1, maxPsnrDb: 100 })
    }
    const out = path.join(repo.root, "images.html")
    cli(["report", "research", "--tag", tag, "--out", out], repo.root)
    const { page, errors, requests } = await open()
    await page.goto(`file://${out}`)
    await page.click('#experiments tr.row[data-id="4"]')
    await page.waitForSelector('tr.details[data-details="4"] .images')
    const images = await page.locator('tr.details[data-details="4"] .images img').evaluateAll((nodes) =>
      Promise.all(nodes.map(async (node) => {
        const image = node as unknown as { decode: () => Promise<void>; naturalWidth: number; naturalHeight: number; alt: string }
        await image.decode()
        return { alt: image.alt, width: image.naturalWidth, height: image.naturalHeight }
      }))
    )
    const names = images.map((image) => image.alt)
    expect(names).toEqual(expect.arrayContaining(["LR input", "bicubic", "this experiment (#4)", "baseline model (#0)", "HR target", "bicubic error", "compare"]))
    for (const image of images) expect(image.width, image.alt).toBeGreaterThan(0)
    expect(images.filter((image) => image.alt === "HR target").every((image) => image.width === 48 && image.height === 48)).toBe(true)
    // The toggle shows the other panel of the pair in place.
    const compare = page.locator('tr.details[data-details="4"] img.compare').first()
    const before = await compare.getAttribute("src")
    await page.locator('tr.details[data-details="4"] .compare-box button').first().click()
    expect(await compare.getAttribute("src")).not.toBe(before)
    expect(errors).toEqual([])
    expect(requests).toEqual([`file://${out}`])
    await page.close()
  })

  it("the live page shows a new experiment within 2 s of its journal line", async () => {
    const served = await startServe()
    try {
      const { page, errors } = await open()
      await page.goto(served.url)
      await page.waitForSelector("#experiments tbody tr.row")
      expect(await page.locator("#experiments tbody tr.row").count()).toBe(5)
      const journal = path.join(stateDir, "journal.jsonl")
      const last = JSON.parse(fs.readFileSync(journal, "utf8").trim().split("\n").at(-1)!)
      const added = { ...last, id: 5, description: "appended by the test", status: "discard" }
      const before = fs.readFileSync(journal, "utf8")
      const written = Date.now()
      fs.appendFileSync(journal, JSON.stringify(added) + "\n")
      try {
        await page.waitForSelector('#experiments tr.row[data-id="5"]', { timeout: 2000 })
        expect(Date.now() - written).toBeLessThan(2000)
        expect(await page.locator('#experiments tr.row[data-id="5"]').textContent()).toContain("appended by the test")
      } finally {
        fs.writeFileSync(journal, before)
      }
      // The live status: a killed run's last phase is not shown as going; a run holding the lock is.
      const live = path.join(stateDir, "live.json")
      const now = new Date().toISOString()
      fs.writeFileSync(live, JSON.stringify({ id: 6, phase: "train", startedAt: now, budgetSeconds: 20, updatedAt: now }))
      await page.locator("#progress", { hasText: "no run is going now (last seen: #6 train)" }).waitFor({ timeout: 2000 })
      // This test's process stands in for a resumed run: the lock names a live process.
      fs.writeFileSync(path.join(stateDir, "lock"), JSON.stringify({ pid: process.pid }) + "\n")
      try {
        await page.waitForSelector("#progress progress", { timeout: 2000 })
        expect(await page.locator("#progress").textContent()).toMatch(/#6 train \d+\.\d s of 20\.0 s, \d+\.\d s left/)
        // Parallel workers: a line for each experiment in flight.
        const inFlight = [{ id: 6, phase: "train", startedAt: now }, { id: 7, phase: "predict", startedAt: now }, { id: 8, phase: null, startedAt: null }]
        fs.writeFileSync(live, JSON.stringify({ id: 8, phase: null, startedAt: null, budgetSeconds: 20, updatedAt: now, inFlight }))
        await page.locator("#progress .in-flight", { hasText: "#8: between phases" }).waitFor({ timeout: 2000 })
        const lines = await page.locator("#progress .in-flight").allTextContents()
        expect(lines).toHaveLength(3)
        expect(lines[0]).toMatch(/^#6 train \d+\.\d s of 20\.0 s, \d+\.\d s left/)
        expect(lines[1]).toMatch(/^#7 predict \d+\.\d s $/)
        expect(await page.locator("#progress progress").count()).toBe(2)
        fs.writeFileSync(live, JSON.stringify({ id: 6, phase: "train", startedAt: now, budgetSeconds: 20, updatedAt: now }))
        await page.locator("#progress .in-flight", { hasText: "#6 train" }).waitFor({ timeout: 2000 })
      } finally {
        fs.rmSync(path.join(stateDir, "lock"), { force: true })
      }
      await page.locator("#progress", { hasText: "no run is going now (last seen: #6 train)" }).waitFor({ timeout: 2000 })
      expect(errors).toEqual([])
      // A path outside the run's logs, typed in the browser.
      const response = await page.goto(new URL("runs/%2e%2e/journal.jsonl", served.url).href)
      expect(response?.status()).toBe(404)
      await page.close()
    } finally {
      fs.rmSync(path.join(stateDir, "live.json"), { force: true })
      await stop(served.child)
    }
  })
})
