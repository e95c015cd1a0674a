/**
 * Fuzzing the mDNS decoder (plugins/mdns, called, not changed) with mutated
 * real responses and random bytes. For every packet:
 *   - decodeMessage returns or throws DnsDecodeError, nothing else (crash);
 *   - it takes at most HANG_MS (hang);
 *   - what it accepts, an independent RFC 1035 reference walker below also
 *     accepts (header counts, label types, backward compression pointers,
 *     255-byte names, rdlength inside the packet, A = 4 and AAAA = 16 bytes,
 *     nothing trailing), and the decoder's records agree with the walker's
 *     (count, type, class, TTL, A/AAAA address as the URL parser normalises
 *     it) (accepted-invalid);
 *   - acceptResponse (the packet as an answer to `nixos.local` on a test
 *     link) returns a verdict, and every address it takes comes from an
 *     answer record of class IN for the name asked, as the decoder read it;
 *   - once plugins/mdns applies DESIGN.md's answer rules (it exports
 *     `recordProblem`), also: a TTL > 0, a unicast address usable on the link
 *     (no loopback, multicast, unspecified, broadcast, v4-mapped, or IPv4 off
 *     the link's subnets), and at most MAX_ADDRESSES_PER_REPLY addresses.
 *     Seeds with such hostile answers are in the pool either way.
 */
import { decodeMessage } from "../../plugins/mdns/dns-decode.ts";
import { DnsDecodeError, type Message } from "../../plugins/mdns/dns.ts";
import * as accept from "../../plugins/mdns/accept.ts";
import type { Link } from "../../plugins/mdns/links.ts";
import { Findings, type FuzzReport, type Rng } from "./rng.ts";

/** A packet that takes longer than this is a hang (seconds, where a GC pause on a loaded machine is ~100 ms). */
export const HANG_MS = 1000;

const NAME = "nixos.local";
const LINK: Link = { name: "veth0", index: 2, ipv4: [{ address: "169.254.47.2", prefix: 16 }], ipv6: true, ipv6Prefixes: [] };
const FROM = { address: "fe80::1%veth0", port: 5353, family: 6 as const };

/** One answer of a seed packet: name, type, rdata (A/AAAA as text), TTL. */
type Seed = [name: string, type: number, data: string | number[], ttl?: number];

/** A response packet (no compression) built from `answers`, with this script's own small encoder: the fuzzer must not trust the code it checks. */
function response(answers: Seed[], additionals: Seed[] = []): Uint8Array {
  const out: number[] = [0, 0, 0x84, 0, 0, 0, 0, answers.length, 0, 0, 0, additionals.length];
  for (const [name, type, data, ttl = 120] of [...answers, ...additionals]) {
    for (const label of name.split(".")) out.push(label.length, ...Buffer.from(label));
    const rdata = typeof data !== "string" ? data : type === 1 ? data.split(".").map(Number) : ipv6(data);
    out.push(0, type >> 8, type & 0xff, 0x80, 1, ttl >>> 24, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff, rdata.length >> 8, rdata.length & 0xff, ...rdata);
  }
  return Uint8Array.from(out);
}

/** 16 bytes of an IPv6 text address without embedded IPv4. */
function ipv6(text: string): number[] {
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  return [...h, ...Array(8 - h.length - t.length).fill(0), ...t].flatMap((g) => [g >> 8, g & 0xff]);
}

/** Real-looking responses: what avahi and systemd-resolved send, plus compression and other record types. */
function seeds(): Uint8Array[] {
  const plain = [
    response([[NAME, 1, "169.254.47.1"]]),
    response([[NAME, 28, "fe80::47"], [NAME, 28, "fe80::5054:ff:fe12:3456"]], [[NAME, 1, "169.254.47.1"]]),
    response([["_ssh._tcp.local", 12, [5, 110, 105, 120, 111, 115, 0]], [NAME, 16, [3, 97, 61, 98]]]),
    response([[NAME, 47, [0xc0, 0x0c, 0, 4, 0x40, 0, 0, 8]]]),
  ];
  // A hand-compressed reply: the second answer's name is a pointer to the first (offset 12).
  const compressed = new Uint8Array([
    0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    5, 110, 105, 120, 111, 115, 5, 108, 111, 99, 97, 108, 0, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 169, 254, 47, 1,
    0xc0, 12, 0, 28, 0x80, 1, 0, 0, 0, 120, 0, 16, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x47,
  ]);
  // Valid packets that the answer rules must refuse: a goodbye (TTL 0), loopback, multicast, unspecified, v4-mapped, off-link, too many.
  const hostile = [
    response([[NAME, 1, "169.254.47.1", 0]]),
    response([[NAME, 1, "127.0.0.1"], [NAME, 28, "::1"]]),
    response([[NAME, 1, "224.0.0.251"], [NAME, 28, "ff02::fb"]]),
    response([[NAME, 1, "0.0.0.0"], [NAME, 28, "::"], [NAME, 28, "::ffff:7f00:1"]]),
    response([[NAME, 1, "10.1.2.3"], [NAME, 1, "255.255.255.255"]]),
    response(Array.from({ length: 40 }, (_, i): Seed => [NAME, 28, `fe80::${(i + 1).toString(16)}`])),
  ];
  return [...plain, compressed, ...hostile];
}

/** Values that break length fields, counts and pointers. */
const INTERESTING = [0, 1, 2, 3, 4, 11, 12, 13, 15, 16, 17, 63, 64, 127, 128, 191, 192, 193, 254, 255];

function mutate(seed: Uint8Array, r: Rng): Uint8Array {
  if (r.int(20) === 0) return Uint8Array.from({ length: r.int(80) }, () => r.int(256));
  let out = Uint8Array.from(seed);
  for (let edits = 1 + r.int(4); edits > 0; edits--) {
    const at = out.length === 0 ? 0 : r.int(out.length);
    switch (r.int(7)) {
      case 0: out[at] = r.int(256); break;
      case 1: out[at] = out[at]! ^ (1 << r.int(8)); break;
      case 2: out[at] = r.pick(INTERESTING); break;
      case 3: out = out.slice(0, at); break;
      case 4: out = Uint8Array.from([...out.subarray(0, at), r.int(256), ...out.subarray(at)]); break;
      case 5: if (at + 1 < out.length) { out[at] = 0xc0 | r.int(4); out[at + 1] = r.int(out.length + 8); } break;
      default: if (at + 1 < out.length) { const v = r.pick([0, 1, 2, 0x7f, 0xff, 0xffff, out.length, out.length - at]); out[at] = v >>> 8; out[at + 1] = v & 0xff; }
    }
  }
  return out;
}

/** A record as the reference walker reads it. */
interface RefRecord {
  type: number;
  class: number;
  ttl: number;
  rdata: Uint8Array;
}

/** The reference walker: does `bytes` follow RFC 1035 §4's structure? Returns why not, or undefined. */
export function referenceProblem(bytes: Uint8Array): string | undefined {
  const walked = referenceWalk(bytes);
  return typeof walked === "string" ? walked : undefined;
}

/** Walk `bytes` by RFC 1035 §4: the records of every section, or why the packet is malformed. */
function referenceWalk(bytes: Uint8Array): RefRecord[] | string {
  const records: RefRecord[] = [];
  if (bytes.length < 12) return "short header";
  const u16 = (at: number) => (bytes[at]! << 8) | bytes[at + 1]!;
  const counts = [u16(4), u16(6), u16(8), u16(10)];
  let at = 12;
  const name = (): string | undefined => {
    let wire = 0;
    let cursor = at;
    let jumped = false;
    for (let hops = 0; ; hops++) {
      if (cursor >= bytes.length) return "name runs past the end";
      const len = bytes[cursor]!;
      if ((len & 0xc0) === 0xc0) {
        if (cursor + 1 >= bytes.length) return "pointer runs past the end";
        const target = ((len & 0x3f) << 8) | bytes[cursor + 1]!;
        if (target >= cursor || target < 12) return "pointer not backward into the message body";
        if (hops > 128) return "pointer loop";
        if (!jumped) at = cursor + 2;
        jumped = true;
        cursor = target;
        continue;
      }
      if ((len & 0xc0) !== 0) return "reserved label type";
      wire += len + 1;
      if (wire > 255) return "name over 255 bytes";
      if (len === 0) {
        if (!jumped) at = cursor + 1;
        return undefined;
      }
      if (cursor + 1 + len > bytes.length) return "label runs past the end";
      cursor += 1 + len;
    }
  };
  for (let q = 0; q < counts[0]!; q++) {
    const problem = name();
    if (problem) return `question: ${problem}`;
    if (at + 4 > bytes.length) return "question runs past the end";
    at += 4;
  }
  for (let i = 0; i < counts[1]! + counts[2]! + counts[3]!; i++) {
    const problem = name();
    if (problem) return `record: ${problem}`;
    if (at + 10 > bytes.length) return "record header runs past the end";
    const type = u16(at);
    const cls = u16(at + 2) & 0x7fff;
    const ttl = ((u16(at + 4) << 16) >>> 0) + u16(at + 6);
    const rdlength = u16(at + 8);
    at += 10;
    if (at + rdlength > bytes.length) return "rdata runs past the end";
    if (type === 1 && rdlength !== 4) return "A record is not 4 bytes";
    if (type === 28 && rdlength !== 16) return "AAAA record is not 16 bytes";
    records.push({ type, class: cls, ttl, rdata: bytes.subarray(at, at + rdlength) });
    at += rdlength;
  }
  return at === bytes.length ? records : "trailing bytes";
}

/** An IPv6 address as WHATWG URL parsing normalises it (an implementation independent of plugins/mdns). */
function canonical6(text: string): string | undefined {
  try {
    return new URL(`http://[${text}]/`).hostname;
  } catch {
    return undefined;
  }
}

/** Where the decoder's records disagree with the reference walker's, or undefined. */
function disagreement(message: Message, reference: RefRecord[]): string | undefined {
  const decoded = [...message.answers, ...message.authorities, ...message.additionals];
  if (decoded.length !== reference.length) return `${decoded.length} records decoded, ${reference.length} in the packet`;
  for (const [i, rr] of decoded.entries()) {
    const ref = reference[i]!;
    if (rr.type !== ref.type || rr.class !== ref.class || rr.ttl !== ref.ttl) return `record ${i + 1}: type/class/TTL ${rr.type}/${rr.class}/${rr.ttl}, packet says ${ref.type}/${ref.class}/${ref.ttl}`;
    if (ref.type === 1 && rr.data !== [...ref.rdata].join(".")) return `record ${i + 1}: A ${String(rr.data)}, packet holds ${[...ref.rdata].join(".")}`;
    if (ref.type === 28) {
      const hex = [...ref.rdata].map((b) => b.toString(16).padStart(2, "0")).join("").match(/.{4}/g)!.join(":");
      if (typeof rr.data !== "string" || canonical6(rr.data) !== canonical6(hex)) return `record ${i + 1}: AAAA ${String(rr.data)}, packet holds ${hex}`;
    }
    if (ref.type !== 1 && ref.type !== 28 && !(rr.data instanceof Uint8Array && Buffer.from(rr.data).equals(Buffer.from(ref.rdata)))) return `record ${i + 1}: rdata differs`;
  }
  return undefined;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Whether plugins/mdns applies the answer rules of DESIGN.md "Trust rules" (TTL, unicast, on-link, a cap). */
export const TRUST_RULES = "recordProblem" in accept;
const MAX_ADDRESSES = (accept as { MAX_ADDRESSES_PER_REPLY?: number }).MAX_ADDRESSES_PER_REPLY ?? Infinity;

/** Why an address may not be taken from an answer on LINK, by the rules alone (an independent check). */
export function unusable(address: string, family: number): string | undefined {
  if (family === 4) {
    const [a = 0, b = 0] = address.split(".").map(Number);
    if (a === 0 || a === 127 || a >= 224) return "not a unicast address";
    if (!(a === 169 && b === 254)) return "an IPv4 address off the link's subnets";
    if (address === "169.254.255.255") return "the broadcast address";
    return undefined;
  }
  const canonical = canonical6(address);
  if (!canonical) return "not an IPv6 address";
  const b = ipv6(canonical.slice(1, -1).replace(/^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, head, a, c, d, e) => `${head}${((+a << 8) | +c).toString(16)}:${((+d << 8) | +e).toString(16)}`));
  const zeroUpTo = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(16) || (zeroUpTo(15) && b[15] === 1)) return "the unspecified or loopback address";
  if (b[0] === 0xff) return "a multicast address";
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return "an IPv4-mapped address";
  return undefined;
}

/** Problems with what acceptResponse took from `message` (it accepted the packet). */
function acceptedProblem(message: Message, addresses: { address: string; family: number }[]): string | undefined {
  const fold = (s: string) => s.replace(/\.$/, "").toLowerCase();
  if (TRUST_RULES && addresses.length > MAX_ADDRESSES) return `took ${addresses.length} addresses from one reply (cap ${MAX_ADDRESSES})`;
  for (const found of addresses) {
    const from = message.answers.filter((rr) => rr.data === found.address && rr.class === 1 && fold(rr.name) === NAME && (rr.type === 1 || rr.type === 28));
    if (from.length === 0) return `took ${found.address}, which no IN answer for ${NAME} holds`;
    if (!from.some((rr) => (rr.type === 1) === (found.family === 4))) return `took ${found.address} with the wrong family`;
    if (!TRUST_RULES) continue;
    if (!from.some((rr) => rr.ttl > 0)) return `took ${found.address} from an answer with TTL 0 (a goodbye)`;
    const why = unusable(found.address, found.family);
    if (why) return `took ${found.address}: ${why}`;
  }
  return undefined;
}

/** Fuzz `count` packets from `r`; stops early (with a finding) past `budgetMs`. */
export function fuzzMdns(count: number, r: Rng, budgetMs: number): FuzzReport {
  const report: FuzzReport = { target: "mdns", inputs: 0, accepted: 0, slowestMs: 0, elapsedMs: 0, findings: [] };
  const pool = seeds();
  const started = performance.now();
  const found = new Findings();
  for (let i = 0; i < count && !found.full; i++) {
    if ((i & 0x3ff) === 0 && performance.now() - started > budgetMs) {
      found.add(`time budget of ${budgetMs} ms spent`, `after ${i} packets`);
      break;
    }
    const packet = mutate(r.pick(pool), r);
    report.inputs++;
    const t0 = performance.now();
    let message: Message | undefined;
    try {
      message = decodeMessage(packet);
    } catch (error) {
      if (!(error instanceof DnsDecodeError)) found.add(`decodeMessage threw ${String(error)}`, hex(packet));
    }
    let verdict: ReturnType<typeof accept.acceptResponse> | undefined;
    try {
      verdict = accept.acceptResponse(packet, FROM, LINK, NAME, [1, 28]);
    } catch (error) {
      found.add(`acceptResponse threw ${String(error)}`, hex(packet));
    }
    const took = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, took);
    if (took > HANG_MS) found.add(`over ${HANG_MS} ms for one packet (hang)`, `${took.toFixed(0)} ms: ${hex(packet)}`);
    if (!message) continue;
    report.accepted++;
    const walked = referenceWalk(packet);
    if (typeof walked === "string") found.add(`decodeMessage accepted a packet the RFC 1035 reference refuses (${walked})`, hex(packet));
    else {
      const differs = disagreement(message, walked);
      if (differs) found.add(`decodeMessage misread a packet (${differs.replace(/^record \d+: /, "")})`, hex(packet));
    }
    if (verdict?.ok) {
      const wrong = acceptedProblem(message, verdict.addresses);
      if (wrong) found.add(`acceptResponse ${wrong}`, hex(packet));
    }
  }
  report.findings = found.list();
  report.elapsedMs = performance.now() - started;
  return report;
}
