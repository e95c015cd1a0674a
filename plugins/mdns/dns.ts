/**
 * DNS message types and the query encoder (RFC 1035 §4, with the mDNS
 * meaning of the class field's top bit from RFC 6762 §5.4 and §10.2). The
 * strict decoder is in dns-decode.ts; the record encoder only test
 * responders need is in test/helpers/dns-encode.ts. Written here rather than taken from npm:
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

/** A one-shot mDNS query for `name` with one question per type (RFC 6762 §5.1); no records, no compression. */
export function encodeQuery(id: number, name: string, types: readonly number[], unicastResponse = false): Uint8Array {
  const encodedName = encodeName(name);
  const out = new Uint8Array(12 + types.length * (encodedName.length + 4));
  const view = new DataView(out.buffer);
  view.setUint16(0, id & 0xffff);
  // flags 0: a standard query (RFC 6762 §18)
  view.setUint16(4, types.length);
  let at = 12;
  for (const type of types) {
    out.set(encodedName, at);
    at += encodedName.length;
    view.setUint16(at, type);
    view.setUint16(at + 2, CLASS_IN | (unicastResponse ? CLASS_TOP_BIT : 0));
    at += 4;
  }
  return out;
}

/** A name in wire form (length-prefixed labels, final zero); DnsEncodeError when it cannot be one. */
export function encodeName(name: string): Uint8Array {
  const encoder = new TextEncoder();
  const parts: number[] = [];
  for (const label of splitName(name)) {
    const bytes = encoder.encode(label);
    if (bytes.length === 0) throw new DnsEncodeError(`empty label in '${name}'`);
    if (bytes.length > MAX_LABEL_BYTES) throw new DnsEncodeError(`label '${label}' is ${bytes.length} bytes; a DNS label holds at most ${MAX_LABEL_BYTES}`);
    parts.push(bytes.length, ...bytes);
    if (parts.length + 1 > MAX_NAME_BYTES) throw new DnsEncodeError(`name '${name}' is longer than ${MAX_NAME_BYTES} bytes on the wire`);
  }
  parts.push(0);
  return Uint8Array.from(parts);
}
