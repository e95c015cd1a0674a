/**
 * `flk lla discover` as a library: wake every host on the link, read the
 * neighbour table, and tell which neighbour is the live ISO's static address
 * and which addresses are EUI-64 (derived from the neighbour's MAC).
 */
import { eui64LinkLocal } from "./eui64.ts";
import { chooseLinks, readLinks, type LinkInfo } from "./links.ts";
import { solicit, type SolicitResult } from "./ndp.ts";
import { pingAllNodes, repliesPerRequest, resolveNeighbours, type EchoReply, type NeighbourEntry } from "./neighbours.ts";

/** `static`: the configured address (fe80::47); `eui64`: the address is its MAC's EUI-64 address. */
export type Flag = "static" | "eui64";

/** One host seen on a link. */
export interface Neighbour {
  iface: string;
  mac: string;
  address: string;
  flags: Flag[];
  router: boolean;
}

/** Two or more hosts answering on the static address on one link (DAD off or not yet done). */
export interface Collision {
  iface: string;
  address: string;
  /** How many hosts answered (at least 2). */
  count: number;
  /** The holders whose MAC is known, each with its EUI-64 address (which still works). */
  hosts: { mac: string; eui64: string }[];
}

/** What `flk lla discover --json` prints. */
export interface Discovery {
  /** The configured static address looked for. */
  address: string;
  interfaces: string[];
  neighbours: Neighbour[];
  collisions: Collision[];
  /** Limits of this run, e.g. no raw socket without root. */
  notes: string[];
}

export interface DiscoverOptions {
  /** The configured static address, canonical. */
  address: string;
  iface?: string;
  /** How long ping waits for replies, in seconds (default 1). */
  deadlineS?: number;
  signal?: AbortSignal;
  /** The links, when the caller has read them already. */
  links?: LinkInfo[];
}

/** The flags of one (address, MAC) pair. */
export function flagsOf(address: string, mac: string, staticAddress: string): Flag[] {
  const flags: Flag[] = [];
  if (address === staticAddress) flags.push("static");
  if (address === eui64LinkLocal(mac)) flags.push("eui64");
  return flags;
}

/** Wake, probe and read every chosen link; see the module comment. */
export async function discover(options: DiscoverOptions): Promise<Discovery> {
  const links = chooseLinks(options.links ?? (await readLinks()), options.iface);
  const probes = await Promise.all(
    links.map(async (link) => {
      const [replies, solicited] = await Promise.all([
        pingAllNodes(link.name, { deadlineS: options.deadlineS, signal: options.signal }),
        solicit(link, options.address, { timeoutMs: 400, signal: options.signal }),
      ]);
      // Our own address answers too (multicast loops back): it is no neighbour.
      const repliers = [...new Set(replies.map((r) => r.address))].filter((a) => !link.linkLocal.includes(a));
      return { link, replies, solicited, table: await resolveNeighbours(link.name, repliers) };
    }),
  );
  const result: Discovery = { address: options.address, interfaces: links.map((l) => l.name), neighbours: [], collisions: [], notes: [] };
  for (const { link, replies, solicited, table } of probes) merge(result, link, table, replies, solicited);
  return result;
}

/** Add one link's neighbours and collision (if any) to `result`. */
function merge(result: Discovery, link: LinkInfo, table: NeighbourEntry[], replies: EchoReply[], solicited: SolicitResult): void {
  const mine = new Map<string, Neighbour>();
  const add = (address: string, mac: string, router: boolean) => {
    const key = `${address} ${mac}`;
    if (!mine.has(key)) mine.set(key, { iface: link.name, mac, address, flags: flagsOf(address, mac, result.address), router });
  };
  for (const entry of table) if (entry.iface === link.name && !link.linkLocal.includes(entry.address)) add(entry.address, entry.mac, entry.router);
  // The table keeps one MAC per address: the solicitation's adverts name every holder.
  if (solicited.ok) {
    for (const advert of solicited.adverts) if (advert.mac !== link.mac) add(result.address, advert.mac, advert.router);
  } else result.notes.push(`${link.name}: ${solicited.reason}`);
  const neighbours = [...mine.values()].sort(byStaticThenAddress);
  result.neighbours.push(...neighbours);
  const holders = neighbours.filter((n) => n.flags.includes("static"));
  // Without the raw socket, two replies to one ping from the static address still show a collision.
  const count = Math.max(holders.length, link.linkLocal.includes(result.address) ? 0 : repliesPerRequest(replies, result.address));
  if (count >= 2) result.collisions.push({ iface: link.name, address: result.address, count, hosts: holders.map((h) => ({ mac: h.mac, eui64: eui64LinkLocal(h.mac) })) });
}

function byStaticThenAddress(a: Neighbour, b: Neighbour): number {
  const rank = (n: Neighbour) => (n.flags.includes("static") ? 0 : n.flags.includes("eui64") ? 1 : 2);
  return rank(a) - rank(b) || a.address.localeCompare(b.address) || a.mac.localeCompare(b.mac);
}
