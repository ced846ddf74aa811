/**
 * What the file decoders (npy, PNG, TIFF) throw when bytes are not what they should be:
 * the format and the problem, in words a user can act on. `ImageFile` adds the file name.
 */
import { Schema } from "effect"

export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  format: Schema.String,
  problem: Schema.String
}) {
  override get message() {
    return `${this.format}: ${this.problem}`
  }
}

export const fail = (format: string, problem: string): never => {
  throw new DecodeError({ format, problem })
}
