/**
 * DNS message types and the encoder (RFC 1035 §4, with the mDNS meaning of
 * the class field's top bit from RFC 6762 §5.4 and §10.2). The strict
 * decoder is in dns-decode.ts. Written here rather than taken from npm:
 * `dns-packet` accepts a truncated A record and returns
 * `10.0.undefined.undefined`, and a resolver reading bytes from anyone on
 * the link must refuse such packets outright.
 */

/** Record types flk asks for or reads. */
export const RR = Object.freeze({ A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, NSEC: 47, ANY: 255 });
/** Class IN. */
export const CLASS_IN = 1;
/** The top bit of a question's class asks for a unicast reply (QU, RFC 6762 §5.4); of a record's class, cache-flush (§10.2). */
export const CLASS_TOP_BIT = 0x8000;
/** Longest name on the wire, length bytes and the final zero included (RFC 1035 §2.3.4). */
export const MAX_NAME_BYTES = 255;
/** Longest label (RFC 1035 §2.3.4). */
export const MAX_LABEL_BYTES = 63;

/** A question: `name` in presentation form (dots between labels; `.` and `\` inside a label escaped with `\`). */
export interface Question {
  name: string;
  type: number;
  /** The class without its top bit (1 = IN). */
  class: number;
  /** The QU bit (RFC 6762 §5.4). */
  unicastResponse: boolean;
}

/** A resource record. A and AAAA data are decoded; other types keep their raw rdata. */
export type ResourceRecord = RecordHead & (
  | { type: 1; data: string }
  | { type: 28; data: string }
  | { type: number; data: Uint8Array }
);

interface RecordHead {
  name: string;
  /** The class without its top bit. */
  class: number;
  /** The cache-flush bit (RFC 6762 §10.2). */
  cacheFlush: boolean;
  ttl: number;
}

/** Header flags (RFC 1035 §4.1.1). */
export interface Flags {
  response: boolean;
  opcode: number;
  authoritative: boolean;
  truncated: boolean;
  recursionDesired: boolean;
  recursionAvailable: boolean;
  rcode: number;
}

/** A whole message. */
export interface Message {
  id: number;
  flags: Flags;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

/** What the decoder refuses, one code per rule so tests and logs can tell them apart. */
export type DecodeErrorCode =
  | "E_DNS_SHORT_HEADER"
  | "E_DNS_TRUNCATED"
  | "E_DNS_POINTER_FORWARD"
  | "E_DNS_POINTER_SELF"
  | "E_DNS_POINTER_HEADER"
  | "E_DNS_POINTER_LOOP"
  | "E_DNS_NAME_TOO_LONG"
  | "E_DNS_LABEL_TYPE"
  | "E_DNS_LABEL_UTF8"
  | "E_DNS_RDLENGTH"
  | "E_DNS_TRAILING";

/** A packet the decoder refuses; the only error `decodeMessage` throws. */
export class DnsDecodeError extends Error {
  override readonly name = "DnsDecodeError";
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    /** Byte offset where the rule was broken. */
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

/** A value the encoder cannot put on the wire (a caller's bug or bad input). */
export class DnsEncodeError extends Error {
  override readonly name = "DnsEncodeError";
}

/** Split a presentation-form name into raw labels, honouring `\.` and `\\`; the root (`""` or `"."`) has none. */
export function splitName(name: string): string[] {
  if (name === "" || name === ".") return [];
  const labels: string[] = [];
  let label = "";
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (c === "\\" && i + 1 < name.length) label += name[++i];
    else if (c === ".") {
      labels.push(label);
      label = "";
    } else label += c;
  }
  // A trailing dot (fully qualified form) adds no label.
  if (label !== "" || !name.endsWith(".") || name.endsWith("\\.")) labels.push(label);
  return labels;
}

/** Escape one raw label for presentation form. */
export function escapeLabel(label: string): string {
  return label.replace(/[\\.]/g, (c) => "\\" + c);
}

/** Start a message with the given flags. */
export function defaultFlags(overrides: Partial<Flags> = {}): Flags {
  return { response: false, opcode: 0, authoritative: false, truncated: false, recursionDesired: false, recursionAvailable: false, rcode: 0, ...overrides };
}

/** Encode a message without name compression (decoders must accept both; queries stay small). */
export function encodeMessage(message: Message): Uint8Array {
  const out = new Writer();
  const f = message.flags;
  out.u16(message.id);
  out.u16((+f.response << 15) | ((f.opcode & 0xf) << 11) | (+f.authoritative << 10) | (+f.truncated << 9) | (+f.recursionDesired << 8) | (+f.recursionAvailable << 7) | (f.rcode & 0xf));
  for (const count of [message.questions.length, message.answers.length, message.authorities.length, message.additionals.length]) out.u16(count);
  for (const q of message.questions) {
    out.name(q.name);
    out.u16(q.type);
    out.u16((q.class & 0x7fff) | (q.unicastResponse ? CLASS_TOP_BIT : 0));
  }
  for (const rr of [...message.answers, ...message.authorities, ...message.additionals]) out.record(rr);
  return out.bytes();
}

/** A one-shot mDNS query for `name` with one question per type (RFC 6762 §5.1). */
export function encodeQuery(id: number, name: string, types: readonly number[], unicastResponse = false): Uint8Array {
  return encodeMessage({
    id,
    flags: defaultFlags(),
    questions: types.map((type) => ({ name, type, class: CLASS_IN, unicastResponse })),
    answers: [],
    authorities: [],
    additionals: [],
  });
}

class Writer {
  #buf = new Uint8Array(512);
  #len = 0;

  #room(n: number) {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
  u8(v: number) {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
  }
  u16(v: number) {
    this.u8(v >>> 8);
    this.u8(v);
  }
  u32(v: number) {
    this.u16(v >>> 16);
    this.u16(v & 0xffff);
  }
  raw(data: Uint8Array) {
    this.#room(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
  }
  name(name: string) {
    const encoder = new TextEncoder();
    let total = 1;
    for (const label of splitName(name)) {
      const bytes = encoder.encode(label);
      if (bytes.length === 0) throw new DnsEncodeError(`empty label in '${name}'`);
      if (bytes.length > MAX_LABEL_BYTES) throw new DnsEncodeError(`label '${label}' is ${bytes.length} bytes; a DNS label holds at most ${MAX_LABEL_BYTES}`);
      total += bytes.length + 1;
      if (total > MAX_NAME_BYTES) throw new DnsEncodeError(`name '${name}' is longer than ${MAX_NAME_BYTES} bytes on the wire`);
      this.u8(bytes.length);
      this.raw(bytes);
    }
    this.u8(0);
  }
  record(rr: ResourceRecord) {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16((rr.class & 0x7fff) | (rr.cacheFlush ? CLASS_TOP_BIT : 0));
    this.u32(rr.ttl >>> 0);
    const data = rdataOf(rr);
    if (data.length > 0xffff) throw new DnsEncodeError(`rdata of ${data.length} bytes does not fit in rdlength`);
    this.u16(data.length);
    this.raw(data);
  }
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function rdataOf(rr: ResourceRecord): Uint8Array {
  if (typeof rr.data !== "string") return rr.data;
  if (rr.type === RR.A) return ipv4Bytes(rr.data);
  if (rr.type === RR.AAAA) return ipv6Bytes(rr.data);
  throw new DnsEncodeError(`type ${rr.type} takes raw rdata, not a string`);
}

/** `10.0.0.1` → 4 bytes. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) throw new DnsEncodeError(`'${address}' is not an IPv4 address`);
  return Uint8Array.from(parts.map(Number));
}

/** `fe80::47` → 16 bytes (no scope, no embedded IPv4). */
export function ipv6Bytes(address: string): Uint8Array {
  const halves = address.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  if (halves.length > 2) throw new DnsEncodeError(`'${address}' is not an IPv6 address`);
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) throw new DnsEncodeError(`'${address}' is not an IPv6 address`);
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new DnsEncodeError(`'${address}' is not an IPv6 address`);
    const v = parseInt(g, 16);
    out[i * 2] = v >>> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}
