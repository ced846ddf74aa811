/**
 * Prints the closing line CI reads, `N passed, N failed, N skipped`, from vitest's JSON
 * report, and exits non-zero when anything failed or the report is missing.
 */
import * as fs from "node:fs"

const file = process.argv[2] ?? ".test-results/vitest.json"
if (!fs.existsSync(file)) {
  console.log("0 passed, 1 failed, 0 skipped")
  console.error(`no test report at ${file}: vitest did not finish`)
  process.exit(1)
}
const report = JSON.parse(fs.readFileSync(file, "utf8")) as {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
  numFailedTestSuites: number
  numTotalTests: number
}
// A test file that fails to load counts as a failure even though no test in it ran.
const failed = report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? report.numFailedTestSuites : 0)
console.log(`${report.numPassedTests} passed, ${failed} failed, ${report.numPendingTests + report.numTodoTests} skipped`)
process.exit(failed > 0 || report.numTotalTests === 0 ? 1 : 0)
