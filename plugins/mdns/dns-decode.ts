/**
 * The strict DNS message decoder (RFC 1035 §4). Every packet an mDNS
 * resolver reads comes from anyone on the link, so each length, count and
 * compression pointer is checked before it is followed, and the only thing
 * that can escape is a DnsDecodeError naming the rule that was broken.
 */
import { formatIPv6Bytes } from "../../core/index.ts";
import { CLASS_TOP_BIT, DnsDecodeError, MAX_NAME_BYTES, RR, escapeLabel, type Message, type Question, type ResourceRecord } from "./dns.ts";

const HEADER_BYTES = 12;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decode a whole message; throws DnsDecodeError and nothing else. */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < HEADER_BYTES) throw new DnsDecodeError("E_DNS_SHORT_HEADER", `a DNS header is 12 bytes, got ${bytes.length}`, 0);
  const r = new Reader(bytes);
  const id = r.u16();
  const bits = r.u16();
  const [qd, an, ns, ar] = [r.u16(), r.u16(), r.u16(), r.u16()];
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) questions.push(readQuestion(r, `question ${i + 1} of ${qd}`));
  const answers = readRecords(r, an, "answer");
  const authorities = readRecords(r, ns, "authority");
  const additionals = readRecords(r, ar, "additional");
  if (r.offset !== bytes.length) throw new DnsDecodeError("E_DNS_TRAILING", `${bytes.length - r.offset} bytes follow the last record the header counts`, r.offset);
  return {
    id,
    flags: {
      response: (bits & 0x8000) !== 0,
      opcode: (bits >>> 11) & 0xf,
      authoritative: (bits & 0x0400) !== 0,
      truncated: (bits & 0x0200) !== 0,
      recursionDesired: (bits & 0x0100) !== 0,
      recursionAvailable: (bits & 0x0080) !== 0,
      rcode: bits & 0xf,
    },
    questions,
    answers,
    authorities,
    additionals,
  };
}

function readQuestion(r: Reader, what: string): Question {
  const name = readName(r, what);
  const type = r.u16(what);
  const cls = r.u16(what);
  return { name, type, class: cls & ~CLASS_TOP_BIT, unicastResponse: (cls & CLASS_TOP_BIT) !== 0 };
}

function readRecords(r: Reader, count: number, section: string): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (let i = 0; i < count; i++) out.push(readRecord(r, `${section} ${i + 1} of ${count}`));
  return out;
}

function readRecord(r: Reader, what: string): ResourceRecord {
  const name = readName(r, what);
  const type = r.u16(what);
  const cls = r.u16(what);
  const ttl = r.u32(what);
  const rdlength = r.u16(what);
  const at = r.offset;
  const rdata = r.take(rdlength, `${what}: rdata`);
  const head = { name, class: cls & ~CLASS_TOP_BIT, cacheFlush: (cls & CLASS_TOP_BIT) !== 0, ttl };
  if (type === RR.A) {
    if (rdlength !== 4) throw new DnsDecodeError("E_DNS_RDLENGTH", `${what}: an A record holds 4 bytes, rdlength says ${rdlength}`, at - 2);
    return { ...head, type: RR.A, data: rdata.join(".") };
  }
  if (type === RR.AAAA) {
    if (rdlength !== 16) throw new DnsDecodeError("E_DNS_RDLENGTH", `${what}: an AAAA record holds 16 bytes, rdlength says ${rdlength}`, at - 2);
    return { ...head, type: RR.AAAA, data: formatIPv6Bytes(rdata) };
  }
  return { ...head, type, data: rdata.slice() };
}

/**
 * Read a possibly compressed name (RFC 1035 §4.1.4). A pointer must point
 * strictly before every byte of this name read so far and past the header:
 * targets then only decrease, so decoding ends, and a loop cannot form.
 */
function readName(r: Reader, what: string): string {
  const bytes = r.bytes;
  const labels: string[] = [];
  let pos = r.offset;
  let lowest = pos; // lowest offset of this name read so far
  let wire = 1; // bytes on the wire once expanded: the final zero
  let resumeAt: number | undefined; // where the reader continues after the first pointer
  for (;;) {
    if (pos >= bytes.length) throw new DnsDecodeError("E_DNS_TRUNCATED", `${what}: the name runs past the end of the packet`, pos);
    const len = bytes[pos]!;
    if (len === 0) {
      pos += 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= bytes.length) throw new DnsDecodeError("E_DNS_TRUNCATED", `${what}: a compression pointer is cut off`, pos);
      const target = ((len & 0x3f) << 8) | bytes[pos + 1]!;
      checkPointer(target, pos, lowest, what);
      resumeAt ??= pos + 2;
      pos = lowest = target;
      continue;
    }
    if (kind !== 0) throw new DnsDecodeError("E_DNS_LABEL_TYPE", `${what}: label type 0x${kind.toString(16)} (length byte ${len}) is not a plain label; labels hold at most 63 bytes`, pos);
    wire += len + 1;
    if (wire > MAX_NAME_BYTES) throw new DnsDecodeError("E_DNS_NAME_TOO_LONG", `${what}: the name is longer than ${MAX_NAME_BYTES} bytes`, pos);
    if (pos + 1 + len > bytes.length) throw new DnsDecodeError("E_DNS_TRUNCATED", `${what}: a ${len}-byte label runs past the end of the packet`, pos);
    labels.push(escapeLabel(decodeLabel(bytes.subarray(pos + 1, pos + 1 + len), what, pos)));
    pos += 1 + len;
  }
  r.offset = resumeAt ?? pos;
  return labels.join(".");
}

function checkPointer(target: number, at: number, lowest: number, what: string): void {
  if (target === at) throw new DnsDecodeError("E_DNS_POINTER_SELF", `${what}: a compression pointer points at itself`, at);
  if (target > at) throw new DnsDecodeError("E_DNS_POINTER_FORWARD", `${what}: a compression pointer points forward to byte ${target}`, at);
  if (target < HEADER_BYTES) throw new DnsDecodeError("E_DNS_POINTER_HEADER", `${what}: a compression pointer points into the header (byte ${target})`, at);
  if (target >= lowest) throw new DnsDecodeError("E_DNS_POINTER_LOOP", `${what}: a compression pointer to byte ${target} goes back into this name and would loop`, at);
}

function decodeLabel(raw: Uint8Array, what: string, at: number): string {
  try {
    return utf8.decode(raw);
  } catch {
    // RFC 6762 §16: mDNS names are UTF-8.
    throw new DnsDecodeError("E_DNS_LABEL_UTF8", `${what}: a label is not valid UTF-8`, at);
  }
}

class Reader {
  offset = 0;
  constructor(readonly bytes: Uint8Array) {}

  take(n: number, what = "header"): Uint8Array {
    if (this.offset + n > this.bytes.length)
      throw new DnsDecodeError("E_DNS_TRUNCATED", `${what}: needs ${n} bytes, ${this.bytes.length - this.offset} left (do the header's counts match the records?)`, this.offset);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u16(what?: string): number {
    const b = this.take(2, what);
    return (b[0]! << 8) | b[1]!;
  }
  u32(what?: string): number {
    const b = this.take(4, what);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }
}
