#!/usr/bin/env node
/**
 * The `autoresearch` executable. It checks the Node version before loading the command,
 * whose imports need a newer Node than some systems have: an old one gets a sentence,
 * not a stack trace from the module loader.
 */
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `autoresearch: error: Node ${process.versions.node} is too old; autoresearch needs Node 22.18 or newer. ` +
      "Install Node 24 (https://nodejs.org/en/download, or `nvm install 24`) and run it again; " +
      "in the autoresearch repository, ./dev setup installs Node 24 into tools/node\n"
  )
  process.exit(1)
}
await import("./Main.ts")
