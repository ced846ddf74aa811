/**
 * @autoresearch/cli: the `autoresearch` command, also usable as a library.
 */
export { cli } from "./Cli.ts"
export * as Doctor from "./Doctor.ts"
export * as LoadConfig from "./LoadConfig.ts"
export * as Progress from "./Progress.ts"
export * as Table from "./Table.ts"
