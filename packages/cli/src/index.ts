/**
 * @autoresearch/cli: the `autoresearch` command, also usable as a library.
 */
export { cli } from "./Cli.ts"
/** `autoresearch run` as a function: `Autoresearch.run` (Effect) and `Autoresearch.runPromise` (scripts). */
export * as Autoresearch from "./Autoresearch.ts"
export * as Doctor from "./Doctor.ts"
export * as LoadConfig from "./LoadConfig.ts"
export * as Progress from "./Progress.ts"
export * as Table from "./Table.ts"
