/**
 * A one-shot Multicast DNS resolver (RFC 6762 §5.1): A and AAAA questions
 * from an ephemeral port to 224.0.0.251 and ff02::fb on each link, so a
 * conformant responder answers by unicast straight to that port (§6.7).
 * No avahi or resolved is needed on the operator's machine.
 */
import type dgram from "node:dgram";
import { FlkError } from "../../core/index.ts";
import { RR, encodeQuery } from "./dns.ts";
import { acceptResponse, preferenceOrder, scoped, type FoundAddress, type Sender } from "./accept.ts";
import { mdnsLinks, type Link } from "./links.ts";
import type { MdnsName } from "./name.ts";

/** The mDNS groups (RFC 6762 §3). */
export const MDNS_IPV4_GROUP = "224.0.0.251";
export const MDNS_IPV6_GROUP = "ff02::fb";
/** After the first answer, how long to wait for the other family or other links. */
export const GRACE_MS = 120;
/** Gaps between retries; each doubles (RFC 6762 §5.2 asks for at least one second between *continuous* queries; a one-shot resolver may retry sooner). */
const FIRST_RETRY_MS = 250;

/** One resolve: the name, the budget, where and what to ask. */
export interface ResolveOptions {
  name: MdnsName;
  timeoutMs: number;
  /** Ask only on this interface. */
  iface?: string;
  /** Address families to ask for: 4 (A), 6 (AAAA). */
  families: readonly (4 | 6)[];
  signal?: AbortSignal;
  graceMs?: number;
  /** Debug lines (ignored packets, send errors). */
  debug?: (line: string) => void;
}

/** What came back, with timings for the benchmark. */
export interface ResolveResult {
  name: string;
  /** Deduplicated, IPv4 first (see preferenceOrder). */
  addresses: FoundAddress[];
  /** Interfaces the query went out on. */
  links: string[];
  /** Milliseconds from the first query to the return. */
  elapsedMs: number;
  /** Milliseconds from the first query to the last answer that added an address. */
  lastAnswerMs?: number;
  /** Packets that were received and refused, with the reason. */
  ignored: string[];
}

interface Transport {
  link: Link;
  family: 4 | 6;
  socket: dgram.Socket;
  group: string;
}

/** Resolve `name` by one-shot mDNS; an empty `addresses` means nobody answered in time. */
export async function resolveMdns(options: ResolveOptions): Promise<ResolveResult> {
  const links = mdnsLinks(options.iface);
  if (links.length === 0)
    throw new FlkError("no interface is up, multicast-capable and has a carrier, so there is nowhere to ask. Plug in the cable or join the network, then run this again.", "E_MDNS_NO_LINK", 1);
  const types = options.families.map((f) => (f === 4 ? RR.A : RR.AAAA));
  const transports = (await Promise.all(links.map((link) => openTransports(link, options.debug)))).flat();
  if (transports.length === 0)
    throw new FlkError(`no address to send from on ${links.map((l) => l.name).join(", ")} (neither IPv4 nor IPv6 link-local). Nothing was sent.`, "E_MDNS_NO_LINK", 1);
  try {
    return await exchange(options, types, transports, links);
  } finally {
    for (const t of transports) t.socket.close();
  }
}

/** One UDP socket per link and family: the reply comes back to its port, so the socket tells the link. */
async function openTransports(link: Link, debug?: (line: string) => void): Promise<Transport[]> {
  const out: Transport[] = [];
  const ipv4 = link.ipv4[0];
  try {
    // Bun's dgram ignores an interface *name* for multicast: use the
    // address, which also works in a namespace without a default route.
    if (ipv4) out.push({ link, family: 4, group: MDNS_IPV4_GROUP, socket: await openSocket("udp4", ipv4.address, ipv4.address) });
    if (link.ipv6) out.push({ link, family: 6, group: `${MDNS_IPV6_GROUP}%${link.name}`, socket: await openSocket("udp6", "::", `::%${link.name}`) });
  } catch (error) {
    debug?.(`cannot open a socket on ${link.name}: ${(error as Error).message}`);
  }
  return out;
}

function openSocket(type: "udp4" | "udp6", bindAddress: string, multicastInterface: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // Loaded when first used, not imported: the bundle would load it at start-up for every command (bench/startup).
    const { createSocket } = require("node:dgram") as typeof import("node:dgram");
    const socket = createSocket({ type });
    socket.once("error", reject);
    socket.bind(0, bindAddress, () => {
      socket.off("error", reject);
      socket.on("error", () => {}); // send errors are reported per send
      socket.setMulticastInterface(multicastInterface);
      socket.setMulticastTTL(255); // RFC 6762 §11
      resolve(socket);
    });
  });
}

/** Send, retry with backoff, collect answers; settle when every family answered, after the grace, or at the timeout. */
function exchange(options: ResolveOptions, types: number[], transports: Transport[], links: Link[]): Promise<ResolveResult> {
  return new Promise((resolve, reject) => {
    const run = new Exchange(options, types, links, resolve, reject);
    if (options.signal?.aborted) return run.abort();
    options.signal?.addEventListener("abort", run.abort, { once: true });
    for (const t of transports) t.socket.on("message", (bytes: Buffer, rinfo: dgram.RemoteInfo) => run.receive(t, bytes, rinfo));
    run.send(transports, 0);
    for (let round = 1, at = FIRST_RETRY_MS, gap = FIRST_RETRY_MS; at < options.timeoutMs; round++, gap *= 2, at += gap) {
      const r = round;
      run.later(at, () => run.send(transports, r));
    }
    run.later(options.timeoutMs, run.finish);
  });
}

/** The state of one resolve: what was found, what was refused, and the timers to cancel. */
class Exchange {
  readonly #started = performance.now();
  readonly #found = new Map<string, FoundAddress>();
  readonly #answered = new Set<number>();
  readonly #ignored: string[] = [];
  readonly #timers: ReturnType<typeof setTimeout>[] = [];
  #lastAnswerMs: number | undefined;
  #done = false;

  constructor(
    readonly options: ResolveOptions,
    readonly types: number[],
    readonly links: Link[],
    readonly resolve: (result: ResolveResult) => void,
    readonly reject: (reason: unknown) => void,
  ) {}

  later(ms: number, fn: () => void): void {
    this.#timers.push(setTimeout(fn, ms));
  }

  send(transports: Transport[], round: number): void {
    for (const t of transports)
      for (const type of this.types) {
        // One question per packet: a legacy unicast reply repeats the question (§6.7), so each stays small.
        const query = encodeQuery(((round << 8) | type) & 0xffff, this.options.name.fqdn, [type]);
        t.socket.send(query, 5353, t.group, (error) => {
          if (error) this.options.debug?.(`sending on ${t.link.name} (IPv${t.family}) failed: ${error.message}`);
        });
      }
  }

  receive(t: Transport, bytes: Uint8Array, rinfo: dgram.RemoteInfo): void {
    if (this.#done) return;
    const from: Sender = { address: rinfo.address, port: rinfo.port, family: t.family };
    const verdict = acceptResponse(bytes, from, t.link, this.options.name.fqdn, this.types);
    if (!verdict.ok) {
      this.#ignored.push(`${rinfo.address} port ${rinfo.port}: ${verdict.reason}`);
      this.options.debug?.(`ignored a packet from ${rinfo.address} port ${rinfo.port} on ${t.link.name}: ${verdict.reason}`);
      return;
    }
    const before = this.#found.size;
    for (const a of verdict.addresses) {
      this.#found.set(scoped(a), a);
      this.#answered.add(a.family === 4 ? RR.A : RR.AAAA);
    }
    if (this.#found.size > before) this.#lastAnswerMs = performance.now() - this.#started;
    if (this.types.every((type) => this.#answered.has(type))) this.finish();
    else if (before === 0) this.later(this.options.graceMs ?? GRACE_MS, this.finish);
  }

  #stop(): boolean {
    if (this.#done) return false;
    this.#done = true;
    this.#timers.forEach(clearTimeout);
    this.options.signal?.removeEventListener("abort", this.abort);
    return true;
  }

  readonly finish = (): void => {
    if (!this.#stop()) return;
    this.resolve({
      name: this.options.name.fqdn,
      addresses: preferenceOrder([...this.#found.values()]),
      links: this.links.map((l) => l.name),
      elapsedMs: performance.now() - this.#started,
      lastAnswerMs: this.#lastAnswerMs,
      ignored: this.#ignored,
    });
  };

  readonly abort = (): void => {
    if (this.#stop()) this.reject(this.options.signal!.reason);
  };
}
