/**
 * Whole public-key files as people paste them: a BOM from a Windows editor,
 * CRLF line ends, trailing blanks, comments — and sometimes, by mistake, a
 * private key, which must be refused before a single line of it is echoed.
 */
import { KeyLineError, MAX_LINE_BYTES, parseKeyLine, type PublicKey } from "./keys.ts";

/** A public key with the line it came from (1-based). */
export interface KeyAt extends PublicKey {
  line: number;
}

/** The result of reading a key file. */
export interface KeyText {
  keys: KeyAt[];
  /** Lines that are not valid keys; messages never repeat the line. */
  errors: Array<{ line: number; message: string }>;
  /** A UTF-8 byte order mark was removed from the start. */
  bomStripped: boolean;
}

/**
 * Private key formats, by a marker that appears in each. The base64 of
 * "openssh-key-v1" catches an OpenSSH private key pasted without its
 * BEGIN/END lines.
 */
const PRIVATE_MARKERS: ReadonlyArray<[RegExp, string]> = [
  [/-----BEGIN OPENSSH PRIVATE KEY-----/, "an OpenSSH private key"],
  [/-----BEGIN (RSA|EC|DSA) PRIVATE KEY-----/, "a PEM private key"],
  [/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/, "a PKCS#8 private key"],
  [/^PuTTY-User-Key-File-\d+:/m, "a PuTTY private key (.ppk)"],
  [/BEGIN SSH2 ENCRYPTED PRIVATE KEY/, "an SSH.com private key"],
  [/b3BlbnNzaC1rZXktdjE/, "an OpenSSH private key body"],
  [/BEGIN [A-Z0-9 ]*PRIVATE KEY/, "a private key"],
];

/** What kind of private key `text` holds, or undefined. */
export function privateKeyKind(text: string): string | undefined {
  for (const [pattern, kind] of PRIVATE_MARKERS) if (pattern.test(text)) return kind;
  return undefined;
}

/** Thrown when the input holds a private key; carries no part of it. */
export class PrivateKeyError extends Error {
  override readonly name = "PrivateKeyError";
  constructor(readonly kind: string) {
    super(`the input is ${kind}`);
  }
}

/**
 * Read every key of a file. Blank lines and `#` comments are skipped; CRLF,
 * a lone CR and leading/trailing blanks are normalised away; a leading UTF-8
 * BOM is stripped (and reported). A private key anywhere throws
 * PrivateKeyError before any line is parsed.
 */
export function readKeyText(text: string): KeyText {
  const kind = privateKeyKind(text);
  if (kind) throw new PrivateKeyError(kind);
  const bomStripped = text.startsWith("\uFEFF");
  const body = bomStripped ? text.slice(1) : text;
  const keys: KeyAt[] = [];
  const errors: KeyText["errors"] = [];
  body.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    // Checked on comment lines too: a NUL or a huge line has no business in a key file.
    if (line.startsWith("#") && (line.includes("\0") || Buffer.byteLength(line) > MAX_LINE_BYTES)) {
      errors.push({ line: index + 1, message: line.includes("\0") ? "the line holds a NUL byte" : `the line is over the ${MAX_LINE_BYTES}-byte limit` });
      return;
    }
    if (line === "" || line.startsWith("#")) return;
    try {
      keys.push({ ...parseKeyLine(line), line: index + 1 });
    } catch (error) {
      if (!(error instanceof KeyLineError)) throw error;
      errors.push({ line: index + 1, message: error.message });
    }
  });
  return { keys, errors, bomStripped };
}
