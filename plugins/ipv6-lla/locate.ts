/**
 * The `locate` tap: after mDNS, find the live installer on the link. First
 * the static address on every usable interface, then the EUI-64 neighbours
 * `discover` finds; a candidate counts only when port 22 answers with an SSH
 * banner, so a printer or a router on the link is not mistaken for it.
 */
import { withScope, type Endpoint, type LocateQuery } from "../../core/index.ts";
import { discover, type Discovery } from "./discover.ts";
import { eui64LinkLocal } from "./eui64.ts";
import { chooseLinks, readLinks, type LinkInfo } from "./links.ts";
import { solicit } from "./ndp.ts";

/** The answer of one probe: an SSH banner, or why not. */
export type SshProbe = { ok: true; banner: string } | { ok: false; reason: string };

/** TCP-connect to `[address%scope]:port` and wait for an `SSH-` banner (RFC 4253 §4.2), at most `timeoutMs`. */
export function probeSsh(address: string, scope: string, options: { timeoutMs: number; port?: number; signal?: AbortSignal }): Promise<SshProbe> {
  return new Promise((resolve) => {
    // Loaded when first used, not imported: the bundle would load it at start-up for every command (bench/startup).
    const { connect } = require("node:net") as typeof import("node:net");
    const socket = connect({ host: `${address}%${scope}`, port: options.port ?? 22, family: 6 });
    let received = "";
    const done = (answer: SshProbe) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ ok: false, reason: received ? "no SSH banner" : `no answer within ${options.timeoutMs} ms` }), options.timeoutMs);
    const onAbort = () => done({ ok: false, reason: "interrupted" });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const line = received.split("\n")[0]!;
      if (received.includes("\n") || received.length > 255) done(line.startsWith("SSH-") ? { ok: true, banner: line.trim() } : { ok: false, reason: "port 22 answered, but not with an SSH banner" });
    });
    socket.on("error", (error: NodeJS.ErrnoException) => done({ ok: false, reason: error.code === "ECONNREFUSED" ? "connection refused" : (error.code ?? error.message) }));
    socket.on("end", () => done({ ok: false, reason: "closed without an SSH banner" }));
  });
}

export interface LocateOptions {
  /** The configured static address, canonical. */
  address: string;
  /** Try EUI-64 neighbours when the static address does not answer. */
  eui64: boolean;
  signal?: AbortSignal;
  warn?: (line: string) => void;
  /** For tests: the links instead of reading them. */
  links?: LinkInfo[];
}

interface Candidate {
  address: string;
  scope: string;
  source: "static" | "eui64";
}

/**
 * Probe candidates in parallel; the first that answers wins at once (a
 * silent second interface must not hold up the one that answered). Each
 * attempt goes to `tried` as it ends.
 */
function firstSsh(candidates: Candidate[], timeoutMs: number, query: LocateQuery, signal?: AbortSignal): Promise<Candidate | undefined> {
  if (candidates.length === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let left = candidates.length;
    for (const c of candidates)
      void probeSsh(c.address, c.scope, { timeoutMs, signal }).then((answer) => {
        query.tried.push(`ipv6-lla: ssh on ${withScope(c.address, c.scope)} (${c.source}): ${answer.ok ? answer.banner : answer.reason}`);
        if (answer.ok) resolve(c);
        if (--left === 0) resolve(undefined);
      });
  });
}

/** Candidates from a discovery: holders of a colliding static address first (by their EUI-64 address), then every EUI-64 neighbour. */
export function eui64Candidates(found: Discovery): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const push = (address: string, scope: string) => {
    if (seen.has(`${address}%${scope}`)) return;
    seen.add(`${address}%${scope}`);
    out.push({ address, scope, source: "eui64" });
  };
  for (const collision of found.collisions) for (const host of collision.hosts) push(host.eui64, collision.iface);
  for (const n of found.neighbours) if (n.flags.includes("eui64")) push(n.address, n.iface);
  return out.slice(0, 64);
}

/** The `locate` tap's body: see the module comment. Returns undefined (next locator) when nothing answers. */
export async function locateOnLink(query: LocateQuery, options: LocateOptions): Promise<Endpoint | undefined> {
  const links = chooseLinks(options.links ?? (await readLinks()), query.iface);
  if (links.length === 0) {
    query.tried.push("ipv6-lla: no interface is up with an IPv6 link-local address");
    return undefined;
  }
  const probeMs = Math.max(200, Math.min(1500, query.timeoutMs / 3));
  const statics = links.map((link): Candidate => ({ address: options.address, scope: link.name, source: "static" }));
  // Everything at once: ssh on the static address, who holds it (two sticks on one link share it),
  // and, for EUI-64, who is on the link at all — so a silent fe80::47 costs no extra round.
  const early = new AbortController();
  const stopEarly = () => early.abort();
  options.signal?.addEventListener("abort", stopEarly, { once: true });
  const seeing = options.eui64
    ? discover({ address: options.address, iface: query.iface, links, signal: early.signal }).catch(() => undefined)
    : Promise.resolve(undefined);
  try {
    return await fromAnswers(query, options, links, probeMs, statics, seeing);
  } finally {
    early.abort();
    options.signal?.removeEventListener("abort", stopEarly);
  }
}

/** Decide from the static probe, the solicitation and (EUI-64) the neighbour list. */
async function fromAnswers(query: LocateQuery, options: LocateOptions, links: LinkInfo[], probeMs: number, statics: Candidate[], seeing: Promise<Discovery | undefined>): Promise<Endpoint | undefined> {
  const [found, holders] = await Promise.all([
    firstSsh(statics, probeMs, query, options.signal),
    Promise.all(links.map((link) => solicit(link, options.address, { timeoutMs: 300, signal: options.signal }))),
  ]);
  const adverts = found ? holders[links.findIndex((l) => l.name === found.scope)]! : undefined;
  const colliding = adverts?.ok && adverts.adverts.length >= 2 ? adverts.adverts : undefined;
  if (found && colliding) options.warn?.(collisionWarning(colliding.length, options.address, found.scope, colliding.map((a) => a.mac), options.eui64));
  if (found && (!colliding || !options.eui64)) return endpoint(found);
  if (!options.eui64) return undefined;
  let candidates: Candidate[];
  if (found && colliding) {
    candidates = colliding.map((a) => ({ address: eui64LinkLocal(a.mac), scope: found.scope, source: "eui64" }));
  } else {
    const seen = await seeing;
    if (!seen) {
      query.tried.push("ipv6-lla: listing the link's neighbours failed");
      return undefined;
    }
    for (const c of seen.collisions) options.warn?.(collisionWarning(c.count, options.address, c.iface, c.hosts.map((h) => h.mac)));
    candidates = eui64Candidates(seen);
    if (candidates.length === 0) query.tried.push(`ipv6-lla: no EUI-64 neighbour answered ff02::1 on ${seen.interfaces.join(", ")}`);
  }
  const eui = await firstSsh(candidates, probeMs, query, options.signal);
  return eui ? endpoint(eui) : found ? endpoint(found) : undefined;
}

function collisionWarning(count: number, address: string, iface: string, macs: string[], eui64 = true): string {
  const next = eui64 ? "trying their EUI-64 addresses" : "taking the one that answered ssh";
  return `${count} hosts answer on ${address}%${iface} (${macs.join(", ") || "MACs unknown without root"}): ${next}; a pinned host key tells them apart`;
}

function endpoint(c: Candidate): Endpoint {
  return { address: c.address, scope: c.scope, family: 6, source: c.source };
}
