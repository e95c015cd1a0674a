/**
 * The local links flk looks for neighbours on, read from `ip -j link` and
 * `ip -j -6 addr` (iproute2's JSON, the same facts `ip link` prints).
 */
import { FlkError, canonicalIPv6, linkProblem, runChecked } from "../../core/index.ts";

/** One local interface. */
export interface LinkInfo {
  name: string;
  index: number;
  /** Its own MAC, when it has one (ether links). */
  mac?: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Has a carrier (LOWER_UP): a cable or a peer is there. */
  carrier: boolean;
  loopback: boolean;
  multicast: boolean;
  /** Its own IPv6 link-local addresses (canonical, without scope). */
  linkLocal: string[];
}

type RawLink = { ifindex?: unknown; ifname?: unknown; flags?: unknown; address?: unknown; link_type?: unknown };
type RawAddr = { ifname?: unknown; addr_info?: Array<{ family?: unknown; local?: unknown; scope?: unknown }> };

function parseJsonArray<T>(text: string): T[] {
  try {
    const value = JSON.parse(text || "[]");
    return Array.isArray(value) ? (value as T[]) : [];
  } catch {
    return [];
  }
}

/** Links from the JSON of `ip -j link show` and `ip -j -6 addr show scope link`; malformed entries are skipped. */
export function parseLinks(linkJson: string, addrJson: string): LinkInfo[] {
  const own = new Map<string, string[]>();
  for (const entry of parseJsonArray<RawAddr>(addrJson)) {
    if (typeof entry?.ifname !== "string" || !Array.isArray(entry.addr_info)) continue;
    const list = own.get(entry.ifname) ?? [];
    for (const info of entry.addr_info) {
      const address = typeof info?.local === "string" && info.scope === "link" ? canonicalIPv6(info.local) : undefined;
      if (address) list.push(address);
    }
    own.set(entry.ifname, list);
  }
  const links: LinkInfo[] = [];
  for (const raw of parseJsonArray<RawLink>(linkJson)) {
    if (typeof raw?.ifname !== "string" || typeof raw.ifindex !== "number") continue;
    const flags = Array.isArray(raw.flags) ? raw.flags.filter((f): f is string => typeof f === "string") : [];
    links.push({
      name: raw.ifname,
      index: raw.ifindex,
      mac: raw.link_type === "ether" && typeof raw.address === "string" ? raw.address.toLowerCase() : undefined,
      up: flags.includes("UP"),
      carrier: flags.includes("LOWER_UP"),
      loopback: flags.includes("LOOPBACK"),
      multicast: flags.includes("MULTICAST"),
      linkLocal: own.get(raw.ifname) ?? [],
    });
  }
  return links;
}

/** The machine's links, as `ip` reports them now. */
export async function readLinks(): Promise<LinkInfo[]> {
  const [links, addrs] = await Promise.all([runChecked(["ip", "-j", "link", "show"]), runChecked(["ip", "-j", "-6", "addr", "show", "scope", "link"])]);
  return parseLinks(links, addrs);
}

/** Why a link cannot reach link-local neighbours, or undefined when it can (core's one judge). */
export function unusable(link: LinkInfo): string | undefined {
  return linkProblem({ ...link, ipv6LinkLocal: link.linkLocal.length > 0 }, { needIpv6LinkLocal: true });
}

/** The links to search: the one named (refused, exit 2, when unusable or absent), else every usable one. */
export function chooseLinks(links: LinkInfo[], iface?: string): LinkInfo[] {
  if (iface === undefined) return links.filter((link) => !unusable(link));
  const link = links.find((l) => l.name === iface);
  if (!link)
    throw new FlkError(`there is no interface '${iface}'. Interfaces here: ${links.map((l) => l.name).join(", ") || "(none)"}. Nothing was sent.`, "E_LLA_IFACE");
  const why = unusable(link);
  if (why) throw new FlkError(`cannot search ${iface}: ${why}. Nothing was sent.`, "E_LLA_IFACE");
  return [link];
}
