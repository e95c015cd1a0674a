/**
 * The SSH wire encoding of RFC 4251 §5 (uint32, uint64, string, mpint), read
 * strictly: every length is checked against what is left, mpints must be
 * positive and minimal, and the caller asserts that nothing trails.
 */

/** A malformed key blob; the message says which field and why. */
export class WireError extends Error {
  override readonly name = "WireError";
}

const encoder = new TextEncoder();
const strictText = new TextDecoder("utf-8", { fatal: true });

/** A cursor over one blob. */
export class WireReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Where the cursor is, for slicing raw fields with `since()`. */
  get offset(): number {
    return this.#offset;
  }

  /** The raw bytes from `start` up to the cursor. */
  since(start: number): Uint8Array {
    return this.#bytes.subarray(start, this.#offset);
  }

  /** A big-endian uint32; `what` names the field in errors. */
  u32(what: string): number {
    this.#need(4, what);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** A big-endian uint64. */
  u64(what: string): bigint {
    this.#need(8, what);
    const value = this.#view.getBigUint64(this.#offset);
    this.#offset += 8;
    return value;
  }

  /** An RFC 4251 `string`: uint32 length, then that many bytes. */
  bytes(what: string): Uint8Array {
    const length = this.u32(`${what} length`);
    this.#need(length, what);
    const out = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return out;
  }

  /**
   * A `string` that must be text: valid UTF-8 without NUL. OpenSSH reads key
   * type, curve and FIDO application names with sshbuf_get_cstring, which
   * refuses an embedded NUL (found by the fuzz test against ssh-keygen).
   */
  text(what: string): string {
    const raw = this.bytes(what);
    if (raw.includes(0)) throw new WireError(`${what} holds a NUL byte`);
    try {
      return strictText.decode(raw);
    } catch {
      throw new WireError(`${what} is not valid UTF-8`);
    }
  }

  /**
   * A positive `mpint` in its minimal form (RFC 4251 §5: "unnecessary leading
   * bytes with the value 0 or 255 MUST NOT be included"). Minimal form keeps
   * the blob identical to what ssh-keygen re-encodes before hashing.
   */
  mpint(what: string): bigint {
    const raw = this.bytes(what);
    if (raw.length === 0) throw new WireError(`${what} is zero`);
    if (raw[0]! & 0x80) throw new WireError(`${what} is negative`);
    if (raw[0] === 0 && (raw.length === 1 || !(raw[1]! & 0x80))) throw new WireError(`${what} has a superfluous leading zero byte`);
    return toBigInt(raw);
  }

  /** Throw unless every byte was consumed. */
  end(what: string): void {
    if (this.remaining !== 0) throw new WireError(`${this.remaining} unexpected trailing byte(s) after the ${what}`);
  }

  #need(length: number, what: string): void {
    if (length > this.remaining) throw new WireError(`${what} is truncated (needs ${length} bytes, ${this.remaining} left)`);
  }
}

/** Big-endian unsigned bytes as a bigint. */
export function toBigInt(bytes: Uint8Array): bigint {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex === "" ? 0n : BigInt("0x" + hex);
}

/** Number of significant bits of a positive bigint. */
export function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

/** An RFC 4251 `string` holding `value`. */
export function sshString(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
