/**
 * Addresses and links, once for every plugin: IPv6 text in (RFC 4291 §2.2)
 * and out (RFC 5952 §4), the one link-local test, which addresses a host may
 * be reached at, and whether a local interface can carry link-local traffic.
 */

/** Eight 16-bit groups. */
export type Groups = readonly number[];

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseGroupList(text: string, dottedTail: boolean): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const dotted = dottedTail && i === parts.length - 1 ? DOTTED.exec(part) : null;
    if (dotted) {
      // RFC 4291 §2.2 form 3: the last 32 bits as an IPv4 dotted quad.
      const bytes = dotted.slice(1).map(Number);
      if (bytes.some((b) => b > 255)) return undefined;
      groups.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
    } else if (HEX_GROUP.test(part)) groups.push(parseInt(part, 16));
    else return undefined;
  }
  return groups;
}

/** The eight groups of an IPv6 address without a `%scope`, or undefined when `text` is not one. */
export function parseIPv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  // A dotted IPv4 tail may only end the whole address.
  const head = parseGroupList(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parseGroupList(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  // "::" stands for one or more zero groups (RFC 4291 §2.2 form 2).
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail];
}

/**
 * RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more
 * zero groups becomes "::" (the first one on a tie), a lone zero group stays "0".
 */
export function formatIPv6(groups: Groups): string {
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) [bestAt, bestLength] = [i, end - i];
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLength).join(":")}`;
}

/** The RFC 5952 text of 16 network-order bytes (an AAAA record, a sockaddr). */
export function formatIPv6Bytes(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  return formatIPv6(groups);
}

/** The canonical text of `text`, or undefined when it is not an IPv6 address. */
export function canonicalIPv6(text: string): string | undefined {
  const groups = parseIPv6(text);
  return groups ? formatIPv6(groups) : undefined;
}

/**
 * The one link-local test: fe80::/10, the prefix RFC 4291 §2.4 assigns to
 * link-local unicast. §2.5.6 lays such addresses out as fe80::/64 (54 zero
 * bits), but the kernel (ipv6_addr_type, net/ipv6/addrconf_core.c) gives
 * every fe80::/10 address link scope: it needs a `%scope` and never leaves
 * the link, which is what every caller here asks. So /10, not /64.
 */
export function isLinkLocal(groups: Groups): boolean {
  return (groups[0]! & 0xffc0) === 0xfe80;
}

/** isLinkLocal on text (`fe80::47`, with or without `%scope`); false for anything not IPv6. */
export function isLinkLocalText(address: string): boolean {
  const groups = parseIPv6(address.split("%")[0]!);
  return groups !== undefined && isLinkLocal(groups);
}

/**
 * True when IPv6 `address` lies inside `network/prefix` (the IPv6 twin of an
 * IPv4 subnet test: an on-link prefix, RFC 4861 §2.1); a `%scope` is ignored,
 * and anything that is not IPv6 is outside.
 */
export function inPrefix6(address: string, network: string, prefix: number): boolean {
  const a = parseIPv6(address.split("%")[0]!);
  const n = parseIPv6(network.split("%")[0]!);
  if (!a || !n) return false;
  for (let bit = 0; bit < Math.min(prefix, 128); bit += 16) {
    const mask = (0xffff << (16 - Math.min(16, prefix - bit))) & 0xffff;
    if ((a[bit / 16]! & mask) !== (n[bit / 16]! & mask)) return false;
  }
  return true;
}

/** `fe80::47%eth0` for a scoped address, else the address: the one place `%scope` is written. */
export function withScope(address: string, scope?: string): string {
  return scope ? `${address}%${scope}` : address;
}

/** An address split from its `%scope` (`fe80::47%eth0`), bracketed or not. */
export interface ScopedAddress {
  address: string;
  scope?: string;
  family: 4 | 6;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The four bytes of a dotted-quad IPv4 address, or undefined. */
export function parseIPv4(text: string): number[] | undefined {
  const match = IPV4.exec(text);
  if (!match) return undefined;
  const bytes = match.slice(1).map(Number);
  if (bytes.some((b, i) => b > 255 || match[i + 1]!.length > 1 && match[i + 1]!.startsWith("0"))) return undefined;
  return bytes;
}

/** A literal address (`192.0.2.7`, `fe80::47%eth0`, `[fe80::47%eth0]`), canonical; undefined for a name. */
export function parseLiteralAddress(text: string): ScopedAddress | undefined {
  const bare = text.replace(/^\[(.*)\]$/, "$1");
  if (parseIPv4(bare)) return { address: bare, family: 4 };
  const at = bare.indexOf("%");
  const groups = parseIPv6(at >= 0 ? bare.slice(0, at) : bare);
  if (!groups) return undefined;
  const scope = at >= 0 ? bare.slice(at + 1) : undefined;
  return { address: formatIPv6(groups), ...(scope ? { scope } : {}), family: 6 };
}

/**
 * Why `address` cannot be a host's unicast address on a link, or undefined
 * when it can: loopback, unspecified, multicast, broadcast and IPv4-mapped
 * addresses never are (RFC 1122 §3.2.1.3, RFC 4291 §2.5.2–2.5.5, §2.7).
 */
export function unicastProblem(address: string, family: 4 | 6): string | undefined {
  if (family === 4) {
    const b = parseIPv4(address);
    if (!b) return "it is not an IPv4 address";
    if (b[0] === 127) return "it is a loopback address";
    if (b[0] === 0) return "it is an unspecified ('this network') address";
    if (b[0]! >= 224 && b[0]! <= 239) return "it is a multicast address";
    if (b[0]! >= 240) return b.every((x) => x === 255) ? "it is the broadcast address" : "it is a reserved (class E) address";
    return undefined;
  }
  const g = parseIPv6(address);
  if (!g) return "it is not an IPv6 address";
  if (g.every((x) => x === 0)) return "it is the unspecified address";
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return "it is the loopback address";
  if ((g[0]! & 0xff00) === 0xff00) return "it is a multicast address";
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return "it is an IPv4-mapped address";
  return undefined;
}

/** What flk needs to know about a local interface to use it for link-local traffic. */
export interface LinkState {
  name: string;
  up: boolean;
  carrier: boolean;
  loopback: boolean;
  multicast: boolean;
  /** Whether it has an IPv6 link-local address (only checked when the caller needs one). */
  ipv6LinkLocal?: boolean;
}

/**
 * Why `link` cannot reach link-local neighbours, or undefined when it can;
 * the one judge for mdns (which reads /sys) and ipv6-lla (which reads `ip -j`).
 */
export function linkProblem(link: LinkState, options: { needIpv6LinkLocal?: boolean } = {}): string | undefined {
  if (link.loopback) return "it is the loopback interface";
  if (!link.up) return `it is down (bring it up with \`ip link set ${link.name} up\`)`;
  if (!link.multicast) return "it cannot send multicast";
  // No carrier: nothing can be sent, and libuv (os.networkInterfaces) hides its addresses.
  if (!link.carrier) return "it has no carrier (is the cable plugged in, the Wi-Fi joined?)";
  if (options.needIpv6LinkLocal && !link.ipv6LinkLocal) return "it has no IPv6 link-local address (IPv6 off, or the link is a bridge port)";
  return undefined;
}
