/**
 * POSIX shell quoting, once: for install scripts that run under `sh`, for
 * commands printed for a person to paste, and for completion scripts.
 */

/** `'text'` with embedded single quotes closed and escaped: safe for any byte but NUL; plain words stay bare. */
export function shQuote(text: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one shell command line. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(" ");
}
