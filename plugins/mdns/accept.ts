/**
 * Which response packets a one-shot mDNS query believes. Pure functions of
 * the bytes, the sender and the link, so every rule has a unit test.
 */
import { DnsDecodeError, RR } from "./dns.ts";
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
  for (const rr of message.answers) {
    if (!types.includes(rr.type) || rr.class !== 1 || !sameName(rr.name, name) || typeof rr.data !== "string") continue;
    addresses.push(rr.type === RR.A ? { address: rr.data, family: 4, source: "mdns" } : withScope(rr.data, link.name));
  }
  if (addresses.length === 0) return { ok: false, reason: `no A/AAAA answer for ${name} in the answer section` };
  return { ok: true, addresses };
}

function withScope(address: string, link: string): FoundAddress {
  return isLinkLocal6(address) ? { address, scope: link, family: 6, source: "mdns" } : { address, family: 6, source: "mdns" };
}

/** fe80::/10 */
export function isLinkLocal6(address: string): boolean {
  return /^fe[89ab][0-9a-f]?:/i.test(address);
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
  if (!isLinkLocal6(address!)) return `${from.address} is not an IPv6 link-local address`;
  if (scope !== link.name && scope !== String(link.index)) return `${from.address} did not arrive on ${link.name}`;
  return undefined;
}

/** `fe80::47%eth0` for scoped addresses, the bare address otherwise. */
export function scoped(found: FoundAddress): string {
  return found.scope ? `${found.address}%${found.scope}` : found.address;
}

/** IPv4 first (no scope needed, every tool takes it), then routable IPv6, then link-local IPv6; stable within each. */
export function preferenceOrder(addresses: FoundAddress[]): FoundAddress[] {
  const rank = (a: FoundAddress) => (a.family === 4 ? 0 : a.scope ? 2 : 1);
  return addresses.map((a, i) => [a, i] as const).sort(([a, i], [b, j]) => rank(a) - rank(b) || i - j).map(([a]) => a);
}
