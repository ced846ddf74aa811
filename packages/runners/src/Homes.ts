/**
 * What a sandboxed phase sees of the user's home directories: nothing, but what it needs
 * there bound back read-only. A home holds tokens, shell history and raw data; the sandbox
 * empties it (and /root when the runner is root), and binds back the working directory,
 * the phase's readable paths and the installation of its interpreter (a pyenv, a conda,
 * a virtual environment under the home). The usual credential files stay masked even
 * inside what is bound back.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { readRegularFile } from "@autoresearch/core"
import { isWithin } from "./Sandbox.ts"

/** Where the user's credentials usually live, relative to their home; hidden even where part of a home is bound back. */
const credentialPaths = [
  ".ssh",
  ".aws",
  ".azure",
  ".kube",
  ".docker",
  ".gnupg",
  ".netrc",
  ".git-credentials",
  ".pypirc",
  ".npmrc",
  ".config/gcloud",
  ".config/gh",
  ".config/hub",
  ".cache/huggingface/token",
  ".huggingface"
]

/** The usual credential files in these homes. */
export const credentialFiles = (homes: ReadonlyArray<string>): Array<string> =>
  homes.flatMap((home) => credentialPaths.map((file) => path.join(home, file)))

const realpath = (target: string) => {
  try {
    return fs.realpathSync(target)
  } catch {
    return undefined
  }
}

/** The home directories a sandboxed phase sees emptied: the user's, and /root when the runner is root. */
export const homesToHide = (hideHome: string | undefined): Array<string> =>
  [...new Set([hideHome ?? os.homedir(), ...(process.getuid?.() === 0 ? ["/root"] : [])].flatMap((home) => realpath(home) ?? []))]
    .filter((home) => home !== path.parse(home).root)

/** The directory an executable is installed under: `<prefix>` for `<prefix>/bin/python`, and so on. */
const installPrefix = (file: string) => {
  const dir = path.dirname(file)
  return ["bin", "shims", "Scripts"].includes(path.basename(dir)) ? path.dirname(dir) : dir
}

/**
 * What a sandboxed phase needs bound back from an emptied home to run its interpreter: the
 * installation of the executable and of what it links to (`~/.venv`, `~/.pyenv/versions/3.12.1`),
 * a virtual environment's base (its pyvenv.cfg's `home`), and the whole tool's tree under
 * the home (`~/.pyenv`, `~/miniconda3`) when the executable is a script, such as a pyenv shim.
 * Nothing is run to find them: the interpreter may lie in the proposed code's directory.
 */
export const interpreterTrees = (executable: string, homes: ReadonlyArray<string>): Array<string> => {
  const files = [...new Set([executable, realpath(executable) ?? executable])]
  const installed = [...files]
  for (const file of files) {
    const config = readRegularFile(path.join(installPrefix(file), "pyvenv.cfg"), 64 * 1024)
    const base = config._tag === "Text" ? /^\s*home\s*=\s*(.+?)\s*$/m.exec(config.text)?.[1] : undefined
    if (base !== undefined && path.isAbsolute(base)) installed.push(path.join(realpath(base) ?? base, "python"))
  }
  const insideHome = (target: string) => homes.some((home) => isWithin(target, home))
  // Never a whole home: a narrower directory, or the file itself, is bound back instead.
  const trees = installed.flatMap((file) =>
    [installPrefix(file), path.dirname(file), file].find((candidate) => !homes.some((home) => isWithin(home, candidate))) ?? []
  )
  const script = readRegularFile(executable, 2)
  if (script._tag === "Text" && script.text === "#!") {
    for (const file of files) {
      for (const home of homes) {
        const first = path.relative(home, file).split(path.sep)[0]
        if (isWithin(file, home) && first !== undefined && first !== "" && first !== path.basename(file)) {
          trees.push(path.join(home, first))
        }
      }
    }
  }
  return [...new Set(trees)].filter(insideHome)
}
