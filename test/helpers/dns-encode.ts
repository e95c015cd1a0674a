/**
 * The DNS message encoder only test responders need (answers with A/AAAA
 * records): flk itself only sends queries (plugins/mdns/dns.ts encodeQuery).
 * No name compression; decoders must accept both.
 */
import { CLASS_TOP_BIT, DnsEncodeError, RR, encodeName, type Flags, type Message, type ResourceRecord } from "../../plugins/mdns/dns.ts";
import { parseIPv4, parseIPv6 } from "../../core/net.ts";

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
    this.raw(encodeName(name));
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
  const bytes = parseIPv4(address);
  if (!bytes) throw new DnsEncodeError(`'${address}' is not an IPv4 address`);
  return Uint8Array.from(bytes);
}

/** `fe80::47` → 16 bytes (no scope). */
export function ipv6Bytes(address: string): Uint8Array {
  const groups = parseIPv6(address);
  if (!groups) throw new DnsEncodeError(`'${address}' is not an IPv6 address`);
  return Uint8Array.from(groups.flatMap((g) => [g >>> 8, g & 0xff]));
}
