/**
 * OpenSSH public key lines (sshd(8) "AUTHORIZED_KEYS FILE FORMAT"): an
 * optional options prefix, the key type, the base64 blob, a comment. Parsed
 * strictly, fingerprinted exactly as `ssh-keygen -lf` does.
 */
import { REFUSED, algorithmOf, readKeyBlob } from "./algorithms.ts";
import { WireError, WireReader } from "./wire.ts";
import { KeyOptionError, parseOptions, type KeyOption } from "./options.ts";

/**
 * The longest key line flk stores, in bytes. OpenSSH reads authorized_keys
 * lines of any length but caps a key blob at SSH_MAX_PUBKEY_BYTES (16384);
 * the longest real line (a 16384-bit RSA key with options) is far below it.
 */
export const MAX_LINE_BYTES = 16 * 1024;

/** One parsed, validated public key line. */
export interface PublicKey {
  /** The authorized_keys options before the key type, exactly as written; "" when none. */
  options: string;
  /** The same options, parsed and checked against the ones sshd knows. */
  optionList: KeyOption[];
  /** The key type, e.g. `ssh-ed25519`. */
  type: string;
  /** ssh-keygen's label, e.g. `ED25519`, `ECDSA-SK`, `RSA-CERT`. */
  label: string;
  bits: number;
  /** The blob as written on the line. */
  base64: string;
  comment: string;
  /** `SHA256:` + unpadded base64 of sha256(plain blob), as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** An OpenSSH certificate (`*-cert-v01@openssh.com`); fingerprinted as its key. */
  certificate: boolean;
}

/** A line that is not a usable public key; the message never repeats the line. */
export class KeyLineError extends Error {
  override readonly name = "KeyLineError";
}

/** `SHA256:` + unpadded base64 of the sha256 of a key blob (sshkey_fingerprint, SSH_FP_BASE64). */
export function fingerprintOf(blob: Uint8Array): string {
  // Required here, not imported: @noble/hashes builds its SHA-2 tables when
  // loaded (~4 ms), which every start-up would pay, `flk --help` included,
  // through this plugin's index (bench/startup.ts).
  const { sha256 } = require("@noble/hashes/sha2.js") as typeof import("@noble/hashes/sha2.js");
  return "SHA256:" + Buffer.from(sha256(blob)).toString("base64").replace(/=+$/, "");
}

/**
 * Split an authorized_keys options prefix off `line`, the way sshd skips it
 * (sshkey_advance_past_options): up to the first blank outside double quotes,
 * where `\"` never toggles quoting.
 */
export function splitOptions(line: string): { options: string; rest: string } {
  let quoted = false;
  let i = 0;
  for (; i < line.length && (quoted || (line[i] !== " " && line[i] !== "\t")); i++) {
    if (line[i] === "\\" && line[i + 1] === '"') i++;
    else if (line[i] === '"') quoted = !quoted;
  }
  if (quoted) throw new KeyLineError("the options before the key have an unterminated double quote");
  return { options: line.slice(0, i), rest: line.slice(i).replace(/^[ \t]+/, "") };
}

const BLANK = /[ \t]+/;
/** A token that looks like a key type rather than options (which hold `=`, `,` or quotes). */
const TYPE_LIKE = /^[A-Za-z0-9][A-Za-z0-9.@_-]*$/;
const SHOWN_TYPE = /^[a-z][a-z0-9.]*-[a-z0-9.-]*(@[a-z0-9.-]+)?$/;

/** Parse one line (already trimmed, not blank, not a `#` comment). */
export function parseKeyLine(line: string): PublicKey {
  // A NUL ends the line for sshd (a C string) but not for Nix or flk: what follows would be invisible to one of them.
  if (line.includes("\0")) throw new KeyLineError("the line holds a NUL byte");
  if (Buffer.byteLength(line) > MAX_LINE_BYTES) throw new KeyLineError(`the line is ${Buffer.byteLength(line)} bytes, over the ${MAX_LINE_BYTES}-byte limit for a key line`);
  if (/^-{4,} ?BEGIN /.test(line)) throw new KeyLineError(pemHint(line));
  const [first = "", second = ""] = line.split(BLANK, 2);
  const looksBare = algorithmOf(first) !== undefined || first in REFUSED || (TYPE_LIKE.test(first) && second.startsWith("AAAA"));
  const { options, rest } = looksBare ? { options: "", rest: line } : splitOptions(line);
  if (rest === "") throw new KeyLineError("there is no key after the options");
  let optionList: KeyOption[];
  try {
    optionList = parseOptions(options);
  } catch (error) {
    if (error instanceof KeyOptionError) throw new KeyLineError(error.message);
    throw error;
  }
  const [type = "", base64 = ""] = rest.split(BLANK, 2);
  const comment = rest.slice(type.length).replace(/^[ \t]+/, "").slice(base64.length).replace(/^[ \t]+/, "");
  const known = algorithmOf(type);
  if (!known) {
    if (type in REFUSED) throw new KeyLineError(REFUSED[type]!);
    // Shown only when it reads like a type name (they all hold a '-', base64 never does), so a stray line of a private key is never echoed.
    const shown = SHOWN_TYPE.test(type) && type.length <= 60 ? `'${type}'` : "(not shown)";
    throw new KeyLineError(`unsupported key type ${shown}; expected ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, sk-ssh-ed25519@openssh.com or sk-ecdsa-sha2-nistp256@openssh.com`);
  }
  if (base64 === "") throw new KeyLineError(`the ${type} key has no base64 key data`);
  const blob = decodeBase64(base64);
  const reader = new WireReader(blob);
  try {
    const inner = reader.text("key type");
    if (inner !== type) throw new KeyLineError(`the key data is a '${inner.slice(0, 60)}' key but the line says '${type}'`);
    const material = readKeyBlob(reader, known.algorithm, known.certificate);
    const label = known.algorithm.label + (known.certificate ? "-CERT" : "");
    return { options, optionList, type, label, bits: material.bits, base64, comment, fingerprint: fingerprintOf(material.plain), certificate: known.certificate };
  } catch (error) {
    if (error instanceof WireError) throw new KeyLineError(`the ${type} key data is malformed: ${error.message}`);
    throw error;
  }
}

/**
 * Strict base64 (RFC 4648 §4): the standard alphabet, padding only at the
 * end, a length that is a multiple of 4, and zero pad bits — checked by
 * re-encoding, since Buffer's decoder silently skips junk.
 */
function decodeBase64(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new KeyLineError("the key data is not valid base64 (only A–Z a–z 0–9 + / with '=' padding, length a multiple of 4)");
  const bytes = Buffer.from(text, "base64");
  if (bytes.toString("base64") !== text) throw new KeyLineError("the key data is not canonical base64 (stray bits in the last group)");
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pemHint(line: string): string {
  if (/SSH2 PUBLIC KEY/.test(line))
    return "this is an RFC 4716 (SSH2/PuTTY) public key; convert it first: `ssh-keygen -i -f FILE > key.pub`";
  if (/BEGIN PUBLIC KEY/.test(line)) return "this is a PEM public key; convert it first: `ssh-keygen -i -m PKCS8 -f FILE > key.pub`";
  if (/BEGIN RSA PUBLIC KEY/.test(line)) return "this is a PEM RSA public key; convert it first: `ssh-keygen -i -m PEM -f FILE > key.pub`";
  return "this is a PEM block, not an OpenSSH public key line (`ssh-ed25519 AAAA… comment`)";
}

/** The line as flk stores it: options (verbatim), type, blob, comment, single blanks between. */
export function formatKeyLine(key: PublicKey): string {
  return [key.options, key.type, key.base64, key.comment].filter((part) => part !== "").join(" ");
}
