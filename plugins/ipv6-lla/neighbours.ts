/**
 * Waking the link and reading who answered: `ping ff02::1%IF` (all-nodes
 * multicast, RFC 4291 §2.7.1) makes every IPv6 host on the link reply, which
 * fills the kernel's neighbour table; `ip -j -6 neigh` then lists them.
 */
import { FlkError, canonicalIPv6, run, runChecked } from "../../core/index.ts";
import { formatMac, parseMac } from "./eui64.ts";

/** One usable row of the neighbour table. */
export interface NeighbourEntry {
  address: string;
  iface: string;
  mac: string;
  /** NUD states as iproute2 names them: REACHABLE, STALE, DELAY, PROBE, PERMANENT, … */
  state: string[];
  router: boolean;
}

// Entries that hold no usable answer: resolution failed or has not finished.
const DEAD_STATES = new Set(["FAILED", "INCOMPLETE", "NOARP", "NONE"]);

/** Rows of `ip -j -6 neigh` with a MAC and a live state; anything malformed is skipped, never thrown. */
export function parseNeighbours(json: string): NeighbourEntry[] {
  let rows: unknown;
  try {
    rows = JSON.parse(json || "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(rows)) return [];
  const out: NeighbourEntry[] = [];
  for (const row of rows as Array<Record<string, unknown>>) {
    if (typeof row !== "object" || row === null) continue;
    const address = typeof row.dst === "string" ? canonicalIPv6(row.dst) : undefined;
    const state = Array.isArray(row.state) ? row.state.filter((s): s is string => typeof s === "string") : [];
    if (!address || typeof row.dev !== "string" || typeof row.lladdr !== "string") continue;
    if (state.some((s) => DEAD_STATES.has(s))) continue;
    let mac: string;
    try {
      mac = formatMac(parseMac(row.lladdr));
    } catch {
      continue; // not a unicast Ethernet address (e.g. a tunnel's lladdr)
    }
    out.push({ address, iface: row.dev, mac, state, router: "router" in row });
  }
  return out;
}

/** The kernel's IPv6 neighbour table (only `iface` when given). */
export async function readNeighbours(iface?: string): Promise<NeighbourEntry[]> {
  // Not `ip neigh show dev IF`: iproute2 then leaves "dev" out of each row.
  const all = parseNeighbours(await runChecked(["ip", "-j", "-6", "neigh", "show"]));
  return iface === undefined ? all : all.filter((entry) => entry.iface === iface);
}

/** One echo reply line of ping: who answered which request. */
export interface EchoReply {
  address: string;
  seq: number;
}

const REPLY = /^\d+ bytes from ([0-9a-fA-F:.]+)(?:%[^:\s]+)?: icmp_seq=(\d+)/;

/** Echo replies in iputils ping output (`64 bytes from fe80::47%eth0: icmp_seq=1 …`); duplicates are kept. */
export function parseEchoReplies(output: string): EchoReply[] {
  const out: EchoReply[] = [];
  for (const line of output.split("\n")) {
    const match = REPLY.exec(line.trim());
    const address = match ? canonicalIPv6(match[1]!) : undefined;
    if (match && address) out.push({ address, seq: Number(match[2]) });
  }
  return out;
}

/**
 * Ping all nodes on `iface`, collecting every reply, for at most `deadlineS`
 * seconds. Root sends two requests 0.5 s apart and stops at the second
 * reply (every host answers the first within that time); iputils refuses a
 * multicast interval under 1 s to other users, so they send one request and
 * listen until the deadline (`-c 1` would stop at the first reply and miss
 * the rest). A silent link is not an error (ping exits 1); a broken ping is.
 */
export async function pingAllNodes(iface: string, options: { deadlineS?: number; signal?: AbortSignal } = {}): Promise<EchoReply[]> {
  const pace = process.getuid?.() === 0 ? ["-c", "2", "-i", "0.5"] : ["-i", "1"];
  const argv = ["ping", "-6", "-n", ...pace, "-w", String(options.deadlineS ?? 1), `ff02::1%${iface}`];
  const result = await run(argv, { signal: options.signal });
  if (result.code > 1)
    throw new FlkError(`\`${argv.join(" ")}\` failed with exit code ${result.code}: ${result.tail.slice(-3).join(" ")}`, "E_LLA_PING", 1);
  return parseEchoReplies(result.stdout);
}

/**
 * Make the kernel resolve `addresses` on `iface` and return the table then.
 * A host that already knows our MAC answers ping without soliciting us, so
 * its entry may be missing; one UDP datagram to the discard port (RFC 863)
 * makes our kernel solicit it, without root. Waits at most `timeoutMs`.
 */
export async function resolveNeighbours(iface: string, addresses: string[], timeoutMs = 500): Promise<NeighbourEntry[]> {
  let table = await readNeighbours(iface);
  const missing = () => addresses.filter((a) => !table.some((e) => e.address === a));
  if (missing().length === 0) return table;
  // Loaded when first used, not imported: the bundle would load it at start-up for every command (bench/startup).
  const { createSocket } = require("node:dgram") as typeof import("node:dgram");
  // One socket per address: on one socket, the ICMP "port unreachable" of an
  // earlier datagram fails the next send with ECONNREFUSED (Bun ≥ 1.3.10), and
  // that neighbour would never be resolved.
  await Promise.all(
    missing().map((address) => {
      const socket = createSocket("udp6");
      return new Promise<void>((done) => socket.send(new Uint8Array(0), 9, `${address}%${iface}`, () => done())).finally(() => socket.close());
    }),
  );
  const deadline = performance.now() + timeoutMs;
  while (missing().length > 0 && performance.now() < deadline) {
    await Bun.sleep(20);
    table = await readNeighbours(iface);
  }
  return table;
}

/** How many hosts answered one request from `address` at most (2+ means two hosts hold it). */
export function repliesPerRequest(replies: EchoReply[], address: string): number {
  const counts = new Map<number, number>();
  for (const reply of replies) if (reply.address === address) counts.set(reply.seq, (counts.get(reply.seq) ?? 0) + 1);
  return Math.max(0, ...counts.values());
}
