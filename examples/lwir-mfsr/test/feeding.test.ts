/**
 * train.py keeps the device busy: no read-back of the loss in every step, no batch built in
 * numpy on the host (the check is lwir-sr's, test/feeding.ts there). LOG_EVERY is 100.
 */
import * as path from "node:path"
import { feedingTest } from "../../lwir-sr/test/feeding.ts"

feedingTest("lwir-mfsr", path.resolve(import.meta.dirname, ".."), { seconds: 6, logEvery: 100, unit: "bursts" })
