import * as path from "node:path"
import { defineConfig } from "vitest/config"

const source = (name: string) => path.resolve(import.meta.dirname, `packages/${name}/src/index.ts`)

export default defineConfig({
  resolve: {
    alias: {
      "@autoresearch/core": source("core"),
      "@autoresearch/runners": source("runners"),
      "@autoresearch/metrics": source("metrics"),
      "@autoresearch/llm": source("llm"),
      "@autoresearch/cli": source("cli")
    }
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    env: { NO_COLOR: "1" },
    globalSetup: ["scripts/vitest-setup.ts"]
  }
})
