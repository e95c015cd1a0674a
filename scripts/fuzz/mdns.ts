/**
 * Fuzzing the mDNS decoder (plugins/mdns, called, not changed) with mutated
 * real responses and random bytes. For every packet:
 *   - decodeMessage returns or throws DnsDecodeError, nothing else (crash);
 *   - it takes at most HANG_MS (hang);
 *   - what it accepts, an independent RFC 1035 reference walker below also
 *     accepts (header counts, label types, backward compression pointers,
 *     255-byte names, rdlength inside the packet, A = 4 and AAAA = 16 bytes,
 *     nothing trailing), and it re-encodes and decodes to the same message
 *     (accepted-invalid);
 *   - acceptResponse (the packet as an answer to `nixos.local` on a test
 *     link) returns a verdict, and every address it takes comes from an
 *     answer record of class IN for the name asked, as the decoder read it.
 */
import { decodeMessage } from "../../plugins/mdns/dns-decode.ts";
import { DnsDecodeError, type Message, type ResourceRecord } from "../../plugins/mdns/dns.ts";
import { encodeMessage } from "../../test/helpers/dns-encode.ts";
import { acceptResponse } from "../../plugins/mdns/accept.ts";
import type { Link } from "../../plugins/mdns/links.ts";
import type { FuzzReport, Rng } from "./rng.ts";

/** A packet that takes longer than this is a hang. */
export const HANG_MS = 250;

const NAME = "nixos.local";
const LINK: Link = { name: "veth0", index: 2, ipv4: [{ address: "169.254.47.2", prefix: 16 }], ipv6: true };
const FROM = { address: "fe80::1%veth0", port: 5353, family: 6 as const };

/** Real-looking responses: what avahi and systemd-resolved send, plus compression and other record types. */
function seeds(): Uint8Array[] {
  const rr = (name: string, type: number, data: string | Uint8Array, ttl = 120): ResourceRecord => ({ name, type, class: 1, cacheFlush: true, ttl, data }) as ResourceRecord;
  const response = (answers: ResourceRecord[], additionals: ResourceRecord[] = []): Message => ({
    id: 0,
    flags: { response: true, opcode: 0, authoritative: true, truncated: false, recursionDesired: false, recursionAvailable: false, rcode: 0 },
    questions: [],
    answers,
    authorities: [],
    additionals,
  });
  const plain = [
    response([rr(NAME, 1, "169.254.47.1")]),
    response([rr(NAME, 28, "fe80::47"), rr(NAME, 28, "fe80::5054:ff:fe12:3456")], [rr(NAME, 1, "169.254.47.1")]),
    response([rr("_ssh._tcp.local", 12, new Uint8Array([5, 110, 105, 120, 111, 115, 0])), rr(NAME, 16, new Uint8Array([3, 97, 61, 98]))]),
    response([rr(NAME, 47, new Uint8Array([0xc0, 0x0c, 0, 4, 0x40, 0, 0, 8]))]),
  ].map(encodeMessage);
  // A hand-compressed reply: the second answer's name is a pointer to the first (offset 12).
  const compressed = new Uint8Array([
    0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 0,
    5, 110, 105, 120, 111, 115, 5, 108, 111, 99, 97, 108, 0, 0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 169, 254, 47, 1,
    0xc0, 12, 0, 28, 0x80, 1, 0, 0, 0, 120, 0, 16, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x47,
  ]);
  return [...plain, compressed];
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

/** The reference walker: does `bytes` follow RFC 1035 §4's structure? Returns why not, or undefined. */
export function referenceProblem(bytes: Uint8Array): string | undefined {
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
    const rdlength = u16(at + 8);
    at += 10;
    if (at + rdlength > bytes.length) return "rdata runs past the end";
    if (type === 1 && rdlength !== 4) return "A record is not 4 bytes";
    if (type === 28 && rdlength !== 16) return "AAAA record is not 16 bytes";
    at += rdlength;
  }
  return at === bytes.length ? undefined : "trailing bytes";
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function sameMessage(a: Message, b: Message): boolean {
  return Bun.deepEquals(a, b, true);
}

/** Problems with what acceptResponse took from `message` (it accepted the packet). */
function acceptedProblem(message: Message, addresses: { address: string; family: number }[]): string | undefined {
  const fold = (s: string) => s.replace(/\.$/, "").toLowerCase();
  for (const found of addresses) {
    const from = message.answers.find((rr) => rr.data === found.address && rr.class === 1 && fold(rr.name) === NAME && (rr.type === 1 || rr.type === 28));
    if (!from) return `took ${found.address}, which no IN answer for ${NAME} holds`;
    if ((from.type === 1) !== (found.family === 4)) return `took ${found.address} with the wrong family`;
  }
  return undefined;
}

/** Fuzz `count` packets from `r`; stops early (with a finding) past `budgetMs`. */
export function fuzzMdns(count: number, r: Rng, budgetMs: number): FuzzReport {
  const report: FuzzReport = { target: "mdns", inputs: 0, accepted: 0, slowestMs: 0, elapsedMs: 0, findings: [] };
  const pool = seeds();
  const started = performance.now();
  for (let i = 0; i < count && report.findings.length < 20; i++) {
    if ((i & 0x3ff) === 0 && performance.now() - started > budgetMs) {
      report.findings.push(`time budget of ${budgetMs} ms spent after ${i} packets`);
      break;
    }
    const packet = mutate(r.pick(pool), r);
    report.inputs++;
    const t0 = performance.now();
    let message: Message | undefined;
    try {
      message = decodeMessage(packet);
    } catch (error) {
      if (!(error instanceof DnsDecodeError)) report.findings.push(`decodeMessage threw ${String(error)} for ${hex(packet)}`);
    }
    let verdict: ReturnType<typeof acceptResponse> | undefined;
    try {
      verdict = acceptResponse(packet, FROM, LINK, NAME, [1, 28]);
    } catch (error) {
      report.findings.push(`acceptResponse threw ${String(error)} for ${hex(packet)}`);
    }
    const took = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, took);
    if (took > HANG_MS) report.findings.push(`${took.toFixed(0)} ms for one packet (hang): ${hex(packet)}`);
    if (!message) continue;
    report.accepted++;
    const problem = referenceProblem(packet);
    if (problem) report.findings.push(`decodeMessage accepted a packet the RFC 1035 reference refuses (${problem}): ${hex(packet)}`);
    try {
      if (!sameMessage(decodeMessage(encodeMessage(message)), message)) report.findings.push(`decoded message does not survive re-encoding: ${hex(packet)}`);
    } catch (error) {
      report.findings.push(`decoded message cannot be re-encoded (${String(error)}): ${hex(packet)}`);
    }
    if (verdict?.ok) {
      const wrong = acceptedProblem(message, verdict.addresses);
      if (wrong) report.findings.push(`acceptResponse ${wrong}: ${hex(packet)}`);
    }
  }
  report.elapsedMs = performance.now() - started;
  return report;
}
