/**
 * The links a one-shot mDNS query goes out on: every interface that is up
 * and multicast-capable (and not loopback), or the one the operator named.
 */
import { readdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { FlkError, isLinkLocalText, linkProblem } from "../../core/index.ts";

/** An interface and the addresses a query can be sent from. */
export interface Link {
  name: string;
  /** The kernel's interface index (a scope may be given as a number). */
  index: number;
  /** IPv4 addresses with their prefix length, e.g. `{ address: "169.254.10.2", prefix: 16 }`. */
  ipv4: { address: string; prefix: number }[];
  /** True when the interface has an IPv6 link-local address to send from. */
  ipv6: boolean;
  /** Its other IPv6 addresses with their prefix length (on-link prefixes), e.g. `{ address: "2001:db8::20", prefix: 64 }`. */
  ipv6Prefixes: { address: string; prefix: number }[];
}

// include/uapi/linux/if.h
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

const SYS_NET = "/sys/class/net";

/** /sys/…/flags holds dev->flags, which never has IFF_RUNNING: carrier is its own file (EINVAL while down). */
function hasCarrier(name: string): boolean {
  try {
    return readFileSync(`${SYS_NET}/${name}/carrier`, "utf8").trim() === "1";
  } catch {
    return false;
  }
}

function flagsOf(name: string): number | undefined {
  try {
    return parseInt(readFileSync(`${SYS_NET}/${name}/flags`, "utf8").trim(), 16);
  } catch {
    return undefined;
  }
}

function readIndex(name: string): number {
  try {
    return Number(readFileSync(`${SYS_NET}/${name}/ifindex`, "utf8").trim());
  } catch {
    return 0;
  }
}

/** Why `name` cannot carry mDNS, or undefined when it can (core's one judge, fed from /sys). */
function unusable(name: string, flags: number): string | undefined {
  return linkProblem({ name, loopback: !!(flags & IFF_LOOPBACK), up: !!(flags & IFF_UP), multicast: !!(flags & IFF_MULTICAST), carrier: hasCarrier(name) });
}

/** Addresses of `name` from the kernel (os.networkInterfaces reads them with getifaddrs). */
function linkOf(name: string, table = networkInterfaces()): Link {
  const entries = table[name] ?? [];
  return {
    name,
    index: readIndex(name),
    ipv4: entries.filter((e) => e.family === "IPv4").map((e) => ({ address: e.address, prefix: Number(e.cidr?.split("/")[1] ?? 32) })),
    ipv6: entries.some((e) => e.family === "IPv6" && isLinkLocalText(e.address)),
    ipv6Prefixes: entries.filter((e) => e.family === "IPv6" && !isLinkLocalText(e.address)).map((e) => ({ address: e.address, prefix: Number(e.cidr?.split("/")[1] ?? 128) })),
  };
}

/** Every usable link, in /sys order; `iface` restricts to one and refuses (exit 2) one that cannot be used. */
export function mdnsLinks(iface?: string): Link[] {
  let names: string[];
  try {
    names = readdirSync(SYS_NET).sort();
  } catch (error) {
    throw new FlkError(`cannot list network interfaces in ${SYS_NET}: ${(error as Error).message}`, "E_MDNS_LINKS", 1, { cause: error });
  }
  const table = networkInterfaces();
  if (iface !== undefined) {
    const flags = names.includes(iface) ? flagsOf(iface) : undefined;
    if (flags === undefined)
      throw new FlkError(`there is no interface '${iface}'. Interfaces here: ${names.join(", ") || "(none)"}. Nothing was sent.`, "E_MDNS_IFACE", 2);
    const why = unusable(iface, flags);
    if (why?.startsWith("it has no carrier")) throw new FlkError(`cannot ask on ${iface}: ${why}. Nothing was sent.`, "E_MDNS_NO_LINK", 1);
    if (why) throw new FlkError(`cannot ask on ${iface}: ${why}. Drop --iface to ask on every usable link. Nothing was sent.`, "E_MDNS_IFACE", 2);
    return [linkOf(iface, table)];
  }
  return names.filter((n) => {
    const flags = flagsOf(n);
    return flags !== undefined && !unusable(n, flags);
  }).map((n) => linkOf(n, table));
}

/** True when `address` (IPv4) is inside `network/prefix`. */
export function inSubnet(address: string, network: string, prefix: number): boolean {
  const toInt = (a: string) => a.split(".").reduce((n, p) => ((n << 8) | Number(p)) >>> 0, 0);
  if (prefix <= 0) return true;
  const mask = prefix >= 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  return ((toInt(address) & mask) >>> 0) === ((toInt(network) & mask) >>> 0);
}
