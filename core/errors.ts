/**
 * Two tiers of failure (STYLE.md §5): an expected, user-fixable problem is a
 * FlkError whose message says what happened, what was left untouched and the
 * fix; anything else is a bug and shows its stack with --verbose.
 */

/** Exit codes of the contract in DESIGN.md. */
export const ExitCode = Object.freeze({
  ok: 0,
  /** A runtime failure: something was tried and did not work. */
  failure: 1,
  /** Refused before doing anything: bad usage, bad input, a safety rule. Nothing written. */
  refused: 2,
  sigint: 130,
  sigterm: 143,
});

/** An expected failure the user can fix; `exitCode` 2 means nothing was done. */
export class FlkError extends Error {
  override readonly name = "FlkError";
  /** A stable machine-readable code, e.g. `E_CONFIG_TYPE`. */
  readonly code: string;
  readonly exitCode: number;

  constructor(message: string, code: string, exitCode: number = ExitCode.refused, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** True for a FlkError (also one from another copy of this module). */
export function isFlkError(error: unknown): error is FlkError {
  return error instanceof FlkError || (error instanceof Error && error.name === "FlkError" && "exitCode" in error);
}

/** The message of any thrown value, for wrapping lower errors. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
