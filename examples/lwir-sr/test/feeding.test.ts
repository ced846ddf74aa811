/**
 * train.py keeps the device busy: no read-back of the loss in every step, no batch built in
 * numpy on the host (see feeding.ts). LOG_EVERY is 200: a run this short reads the loss back
 * once, at the end.
 */
import * as path from "node:path"
import { feedingTest } from "./feeding.ts"

feedingTest("lwir-sr", path.resolve(import.meta.dirname, ".."), { seconds: 4, logEvery: 200, unit: "pairs" })
