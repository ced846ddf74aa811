/**
 * Prints the closing line CI reads, `N passed, N failed, N skipped`, summed over the
 * vitest JSON reports below a folder (one per project, fresh or restored from nx's cache),
 * and exits non-zero when anything failed. The second argument is the exit status of
 * what ran the tests: a failure there with no failed test (a build or a type-check) is
 * counted as one failure, so it can never pass unseen.
 */
import * as fs from "node:fs"
import * as path from "node:path"

interface Report {
  readonly numPassedTests: number
  readonly numFailedTests: number
  readonly numPendingTests: number
  readonly numTodoTests: number
  readonly numFailedTestSuites: number
  readonly numTotalTests: number
}

const folder = process.argv[2] ?? ".test-results"
const runStatus = Number(process.argv[3] ?? "0")
const files = fs.existsSync(folder)
  ? fs.readdirSync(folder, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".json")).sort()
  : []
const reports = files.map((name) => JSON.parse(fs.readFileSync(path.join(folder, name), "utf8")) as Report)
const sum = (pick: (report: Report) => number) => reports.reduce((total, report) => total + pick(report), 0)
const passed = sum((r) => r.numPassedTests)
// A test file that fails to load counts as a failure even though no test in it ran.
let failed = sum((r) => r.numFailedTests + (r.numFailedTestSuites > 0 && r.numFailedTests === 0 ? r.numFailedTestSuites : 0))
if (files.length === 0) console.error(`no test report in ${folder}: the tests did not run`)
if (runStatus !== 0 && failed === 0) {
  console.error(`the test run exited with status ${runStatus} with no failed test: a build or a type-check failed (see above)`)
  failed = 1
}
console.log(`${passed} passed, ${failed} failed, ${sum((r) => r.numPendingTests + r.numTodoTests)} skipped`)
process.exit(failed > 0 || sum((r) => r.numTotalTests) === 0 ? 1 : 0)
