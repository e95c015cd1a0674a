/**
 * Which response packets a one-shot mDNS query believes. Pure functions of
 * the bytes, the sender and the link, so every rule has a unit test.
 */
import { inPrefix6, isLinkLocalText, unicastProblem, withScope } from "../../core/index.ts";
import { DnsDecodeError, RR, type ResourceRecord } from "./dns.ts";
import { decodeMessage } from "./dns-decode.ts";
import { inSubnet, type Link } from "./links.ts";
import { sameName } from "./name.ts";

/** The mDNS port: RFC 6762 §6 — responses from any other source port MUST be ignored. */
export const MDNS_PORT = 5353;

/** Where a packet came from, as dgram reports it (IPv6 link-local with `%scope`). */
export interface Sender {
  address: string;
  port: number;
  family: 4 | 6;
}

/** An address found by mDNS: the `--json` shape of `flk resolve`. */
export interface FoundAddress {
  address: string;
  /** The interface of an IPv6 link-local address (`fe80::47%eth0`). */
  scope?: string;
  family: 4 | 6;
  source: "mdns";
}

/** At most this many A/AAAA records of one reply are looked at, and this many addresses taken from it. */
export const MAX_RECORDS_PER_REPLY = 16;
export const MAX_ADDRESSES_PER_REPLY = 8;

/** The verdict on one packet. */
export type Verdict = { ok: true; addresses: FoundAddress[] } | { ok: false; reason: string };

/** Check a packet that arrived on `link` in answer to a query for `name` of `types` (A = 1, AAAA = 28). */
export function acceptResponse(bytes: Uint8Array, from: Sender, link: Link, name: string, types: readonly number[]): Verdict {
  if (from.port !== MDNS_PORT) return { ok: false, reason: `source port ${from.port} is not ${MDNS_PORT} (RFC 6762 §6)` };
  const offLink = onLinkProblem(from, link);
  if (offLink) return { ok: false, reason: offLink };
  let message;
  try {
    message = decodeMessage(bytes);
  } catch (error) {
    if (error instanceof DnsDecodeError) return { ok: false, reason: `malformed: ${error.message}` };
    throw error;
  }
  const { flags } = message;
  if (!flags.response) return { ok: false, reason: "it is a query, not a response" };
  if (flags.opcode !== 0) return { ok: false, reason: `opcode ${flags.opcode} is not 0 (RFC 6762 §18.3)` };
  if (flags.rcode !== 0) return { ok: false, reason: `rcode ${flags.rcode} is not 0 (RFC 6762 §18.11)` };
  const addresses: FoundAddress[] = [];
  const refused: string[] = [];
  const candidates = message.answers.filter((rr) => types.includes(rr.type)).slice(0, MAX_RECORDS_PER_REPLY);
  for (const rr of candidates) {
    const problem = recordProblem(rr, name, link);
    if (problem) refused.push(problem);
    else if (addresses.length < MAX_ADDRESSES_PER_REPLY) addresses.push(found(rr.data as string, rr.type === RR.A ? 4 : 6, link.name));
  }
  if (addresses.length === 0) return { ok: false, reason: refused.length ? refused.join("; ") : `no A/AAAA answer for ${name} in the answer section` };
  return { ok: true, addresses };
}

/**
 * Why one A/AAAA record does not count (DESIGN.md "Trust rules": network
 * answers): it must be for the name asked, class IN, with a TTL > 0 (a TTL
 * of 0 is a goodbye, RFC 6762 §10.1), and name a unicast address this link
 * can reach — IPv4 only inside the link's own subnets or 169.254/16, IPv6
 * only link-local (fe80::/10, then scoped to this link) or inside a prefix
 * assigned to this link: an off-link AAAA (2001:db8::66 answered on a link
 * that has no such prefix) would send ssh off the link, away from the
 * installer the other locators find.
 */
export function recordProblem(rr: ResourceRecord, name: string, link: Link): string | undefined {
  if (rr.class !== 1) return `a record of class ${rr.class}, not IN`;
  if (!sameName(rr.name, name)) return `a record for ${JSON.stringify(rr.name.slice(0, 80))}, not ${name}`;
  if (typeof rr.data !== "string") return "a record without an address";
  if (rr.ttl === 0) return `${rr.data} has TTL 0 (a goodbye, RFC 6762 §10.1)`;
  const family = rr.type === RR.A ? 4 : 6;
  const problem = unicastProblem(rr.data, family);
  if (problem) return `${rr.data}: ${problem}`;
  if (family === 4) {
    // RFC 3927 §2.1: the whole 169.254/16 block is one link, and its
    // broadcast (and network) address names no host.
    if (inSubnet(rr.data, "169.254.0.0", 16)) return isBroadcast(rr.data, 16) || isNetwork(rr.data, 16) ? `${rr.data} is the broadcast or network address of 169.254/16` : undefined;
    const subnet = link.ipv4.find((a) => inSubnet(rr.data as string, a.address, a.prefix));
    if (!subnet) return `${rr.data} is not on ${link.name}'s subnets (${link.ipv4.map((a) => `${a.address}/${a.prefix}`).join(", ") || "none"})`;
    if (subnet.prefix < 31 && isBroadcast(rr.data, subnet.prefix)) return `${rr.data} is the broadcast address of ${link.name}'s subnet`;
    return undefined;
  }
  if (isLinkLocalText(rr.data)) return undefined;
  if (!link.ipv6Prefixes.some((p) => inPrefix6(rr.data as string, p.address, p.prefix)))
    return `${rr.data} is neither link-local nor inside ${link.name}'s IPv6 prefixes (${link.ipv6Prefixes.map((p) => `${p.address}/${p.prefix}`).join(", ") || "none"})`;
  return undefined;
}

function isBroadcast(address: string, prefix: number): boolean {
  const host = address.split(".").reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0) & (0xffffffff >>> prefix);
  return host === 0xffffffff >>> prefix;
}

function isNetwork(address: string, prefix: number): boolean {
  return (address.split(".").reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0) & (0xffffffff >>> prefix)) === 0;
}

function found(address: string, family: 4 | 6, link: string): FoundAddress {
  if (family === 4) return { address, family: 4, source: "mdns" };
  // A link-local address is only meaningful on the link it arrived on.
  return isLinkLocalText(address) ? { address, scope: link, family: 6, source: "mdns" } : { address, family: 6, source: "mdns" };
}

/**
 * RFC 6762 §11 (source address check): a reply is believed only from this
 * link — IPv4 from one of the link's subnets or 169.254/16, IPv6 from a
 * link-local address whose scope is this interface.
 */
function onLinkProblem(from: Sender, link: Link): string | undefined {
  if (from.family === 4) {
    if (inSubnet(from.address, "169.254.0.0", 16)) return undefined;
    if (link.ipv4.some((a) => inSubnet(from.address, a.address, a.prefix))) return undefined;
    return `${from.address} is not on ${link.name}'s subnets`;
  }
  const [address, scope] = from.address.split("%");
  if (!isLinkLocalText(address!)) return `${from.address} is not an IPv6 link-local address`;
  if (scope !== link.name && scope !== String(link.index)) return `${from.address} did not arrive on ${link.name}`;
  return undefined;
}

/** `fe80::47%eth0` for scoped addresses, the bare address otherwise. */
export function scoped(found: FoundAddress): string {
  return withScope(found.address, found.scope);
}

/** IPv4 first (no scope needed, every tool takes it), then routable IPv6, then link-local IPv6; stable within each. */
export function preferenceOrder(addresses: FoundAddress[]): FoundAddress[] {
  const rank = (a: FoundAddress) => (a.family === 4 ? 0 : a.scope ? 2 : 1);
  return addresses.map((a, i) => [a, i] as const).sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j).map(([a]) => a);
}
