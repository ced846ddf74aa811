/**
 * Finding the Python interpreter a research directory needs: the first candidate that
 * imports every module named. For configs, so one file works with a venv, conda, or
 * Debian's /usr/bin/python3 with python3-torch.
 */
import * as Command from "./Command.ts"

/** Whether `python` imports every module in `modules` (within 60 s). */
export const pythonImports = (python: ReadonlyArray<string>, modules: ReadonlyArray<string>): boolean => {
  const output = Command.runSync(python[0]!, [...python.slice(1), "-c", modules.map((name) => `import ${name}`).join("; ") || "pass"])
  return output !== undefined && Command.succeeded(output)
}

/**
 * `AUTORESEARCH_PYTHON` when set (split on spaces), else the first of `candidates` that
 * imports `modules`, else the first candidate; with whether the one returned imports them.
 */
export const locatePython = (
  modules: ReadonlyArray<string>,
  candidates: ReadonlyArray<string> = ["python3", "/usr/bin/python3", "python"],
  env: NodeJS.ProcessEnv = process.env
): { readonly command: Array<string>; readonly imports: boolean } => {
  const chosen = env.AUTORESEARCH_PYTHON?.trim()
  if (chosen) {
    const command = chosen.split(/\s+/)
    return { command, imports: pythonImports(command, modules) }
  }
  const found = candidates.find((candidate) => pythonImports([candidate], modules))
  return { command: [found ?? candidates[0]!], imports: found !== undefined }
}

/** The command `locatePython` gives, for configs (the first candidate when none imports `modules`, so the CLI reports what is missing). */
export const findPython = (
  modules: ReadonlyArray<string>,
  candidates?: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv = process.env
): Array<string> => {
  const chosen = env.AUTORESEARCH_PYTHON?.trim()
  return chosen ? chosen.split(/\s+/) : locatePython(modules, candidates, env).command
}
