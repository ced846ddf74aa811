/**
 * The screenshots in docs/: the report and the live page of a finished research run, taken
 * in chromium. Run from the repository root after a run, e.g. of examples/lwir-sr:
 *
 *   node packages/cli/bench/screenshots.ts examples/lwir-sr shots docs/measured
 *
 * It writes report-lwir-sr.png (summary and charts), report-lwir-sr-images.png (the best
 * kept experiment opened: diff, logs, image panel) and live-lwir-sr.png.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const [dir = "examples/lwir-sr", tag = "shots", out = "docs/measured"] = process.argv.slice(2)
const name = path.basename(path.resolve(dir))
const cli = path.resolve(import.meta.dirname, "../dist/bin.js")
const browserPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].find((file) => fs.existsSync(file))
if (browserPath === undefined) throw new Error("no chromium (Debian: apt-get install chromium)")

const report = path.resolve(out, `.report-${name}.html`)
execFileSync(process.execPath, [cli, "report", dir, "--tag", tag, "--out", report], { stdio: "inherit" })
const summary = JSON.parse(execFileSync(process.execPath, [cli, "report", dir, "--tag", tag, "--json"], { encoding: "utf8" })) as {
  best: { id: number } | null
}

const { chromium } = await import("playwright-core")
const browser = await chromium.launch({ executablePath: browserPath, args: ["--no-sandbox"] })
const page = await browser.newPage({ viewport: { width: 1240, height: 900 }, deviceScaleFactor: 1 })
await page.goto(`file://${report}`)
await page.waitForSelector("#experiments tr.row")
await page.screenshot({ path: path.join(out, `report-${name}.png`), fullPage: false })
if (summary.best !== null) {
  await page.click(`#experiments tr.row[data-id="${summary.best.id}"]`)
  const details = page.locator(`tr.details[data-details="${summary.best.id}"]`)
  await details.waitFor()
  await details.screenshot({ path: path.join(out, `report-${name}-images.png`) })
}
await page.close()
fs.rmSync(report)

// The live page, from a second process, as a user would open it.
const server = spawn(process.execPath, [cli, "serve", dir, "--tag", tag, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] })
const url = await new Promise<string>((resolve, reject) => {
  let text = ""
  server.stdout!.on("data", (chunk) => {
    text += chunk
    const match = /(http:\/\/\S+\/)/.exec(text)
    if (match) resolve(match[1]!)
  })
  server.on("exit", (code) => reject(new Error(`serve exited with ${code}`)))
})
const live = await browser.newPage({ viewport: { width: 1240, height: 900 } })
await live.goto(url)
await live.waitForSelector("#experiments tr.row")
await live.screenshot({ path: path.join(out, `live-${name}.png`), fullPage: false })
await browser.close()
server.kill("SIGTERM")
console.log(`screenshots of ${dir} (${tag}) in ${out}`)
