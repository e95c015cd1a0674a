/**
 * Who holds an address on a link, all of them: a Neighbor Solicitation
 * (RFC 4861 §4.3) sent to the target's solicited-node group, and every
 * Neighbor Advertisement that comes back, each with its MAC.
 *
 * Why by hand: the kernel's neighbour table keeps one MAC per address, and a
 * unicast ping to fe80::47 reaches only that one, so two live ISOs on one
 * link look like one. iputils has no NDP tool and ndisc6 is rarely
 * installed, so this opens a raw ICMPv6 socket through libc (bun:ffi).
 * Raw sockets need CAP_NET_RAW: without it `solicit` says so and discover
 * falls back to counting ping replies (which sees a collision, not the MACs).
 */
import type * as Ffi from "bun:ffi";
import { formatMac } from "./eui64.ts";
import { formatIPv6, parseIPv6 } from "../../core/index.ts";

/** One Neighbor Advertisement for the target. */
export interface Advert {
  /** The Target Link-Layer Address option: the answering card's MAC. */
  mac: string;
  router: boolean;
  solicited: boolean;
  override: boolean;
}

/** The answers, or why none could be asked for. */
export type SolicitResult = { ok: true; adverts: Advert[] } | { ok: false; reason: string };

// <linux/socket.h>, <netinet/in.h>, <asm-generic/socket.h>, <bits/socket.h>
const AF_INET6 = 10;
const SOCK_RAW = 3;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const IPV6_MULTICAST_HOPS = 18;
const SOL_SOCKET = 1;
const SO_BINDTODEVICE = 25;
const MSG_DONTWAIT = 0x40;
// Errors that mean the socket itself is unusable; anything else (EAGAIN) means "nothing yet".
const FATAL_ERRNO = new Set([9 /* EBADF */, 22 /* EINVAL */, 88 /* ENOTSOCK */]);
const ND_NEIGHBOR_SOLICIT = 135;
const ND_NEIGHBOR_ADVERT = 136;

/** bun:ffi, loaded when a raw socket is first needed, not at start-up for every command (bench/startup). */
let ffiModule: typeof Ffi | undefined;
const ffi = (): typeof Ffi => (ffiModule ??= require("bun:ffi") as typeof Ffi);

let libc: ReturnType<typeof openLibc> | undefined;
function openLibc() {
  const { dlopen, FFIType } = ffi();
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    recvfrom: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    strerror: { args: [FFIType.i32], returns: FFIType.cstring },
    __errno_location: { args: [], returns: FFIType.ptr },
  }).symbols;
}

/** The solicited-node multicast group of `target` (RFC 4291 §2.7.1): ff02::1:ff + its low 24 bits. */
export function solicitedNode(target: readonly number[]): number[] {
  return [0xff02, 0, 0, 0, 0, 1, 0xff00 | (target[6]! & 0xff), target[7]!];
}

/** A Neighbor Solicitation for `target`, with our MAC as Source Link-Layer Address option when known (saves the reply a lookup). */
export function buildSolicitation(target: readonly number[], sourceMac?: Uint8Array): Uint8Array {
  const packet = new Uint8Array(sourceMac ? 32 : 24);
  packet[0] = ND_NEIGHBOR_SOLICIT;
  // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets (RFC 3542 §3.1).
  for (let i = 0; i < 8; i++) [packet[8 + 2 * i], packet[9 + 2 * i]] = [target[i]! >> 8, target[i]! & 0xff];
  if (sourceMac) packet.set([1, 1, ...sourceMac], 24);
  return packet;
}

/** The advert in `packet` when it is a Neighbor Advertisement for `target` carrying a MAC; anything else is undefined. */
export function parseAdvert(packet: Uint8Array, target: readonly number[]): Advert | undefined {
  if (packet.length < 24 || packet[0] !== ND_NEIGHBOR_ADVERT || packet[1] !== 0) return undefined;
  for (let i = 0; i < 8; i++) if (((packet[8 + 2 * i]! << 8) | packet[9 + 2 * i]!) !== target[i]) return undefined;
  // Options are (type, length in units of 8 octets, data); a zero length is invalid (RFC 4861 §4.6).
  for (let at = 24; at + 2 <= packet.length; ) {
    const [type, units] = [packet[at]!, packet[at + 1]!];
    if (units === 0 || at + units * 8 > packet.length) return undefined;
    if (type === 2 && units === 1) {
      const flags = packet[4]!;
      return { mac: formatMac(packet.subarray(at + 2, at + 8)), router: !!(flags & 0x80), solicited: !!(flags & 0x40), override: !!(flags & 0x20) };
    }
    at += units * 8;
  }
  return undefined;
}

function sockaddr(groups: readonly number[], scopeId: number): Uint8Array {
  const sa = new Uint8Array(28); // struct sockaddr_in6
  const view = new DataView(sa.buffer);
  view.setUint16(0, AF_INET6, true);
  for (let i = 0; i < 8; i++) view.setUint16(8 + 2 * i, groups[i]!, false);
  view.setUint32(24, scopeId, true);
  return sa;
}

/**
 * Ask `link` who holds `target` and collect every advert for `timeoutMs`.
 * The socket is non-blocking and polled, so the event loop keeps running.
 */
export async function solicit(link: { name: string; index: number; mac?: string }, target: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<SolicitResult> {
  const groups = parseIPv6(target);
  if (!groups) return { ok: false, reason: `'${target}' is not an IPv6 address` };
  let c: NonNullable<typeof libc>;
  try {
    c = libc ??= openLibc();
  } catch (error) {
    return { ok: false, reason: `cannot load libc for a raw socket: ${(error as Error).message}` };
  }
  const errno = () => ffi().read.i32(c.__errno_location()!, 0);
  const fd = c.socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
  if (fd < 0) {
    const code = errno();
    return { ok: false, reason: `cannot open a raw ICMPv6 socket (${c.strerror(code)}); run as root (or with CAP_NET_RAW) to see every host on ${formatIPv6(groups)}` };
  }
  try {
    const name = new TextEncoder().encode(link.name + "\0");
    // NDP messages must carry hop limit 255 or receivers drop them (RFC 4861 §7.1.1).
    const hops = new Int32Array([255]);
    if (c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ffi().ptr(name), name.length) < 0 || c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ffi().ptr(hops), 4) < 0)
      return { ok: false, reason: `cannot bind a raw socket to ${link.name}: ${c.strerror(errno())}` };
    const mac = link.mac ? Uint8Array.from(link.mac.split(":"), (h) => parseInt(h, 16)) : undefined;
    const packet = buildSolicitation(groups, mac?.length === 6 ? mac : undefined);
    const to = sockaddr(solicitedNode(groups), link.index);
    const send = () => Number(c.sendto(fd, ffi().ptr(packet), packet.length, 0, ffi().ptr(to), to.length));
    if (send() < 0) return { ok: false, reason: `cannot send a neighbour solicitation on ${link.name}: ${c.strerror(errno())}` };
    return { ok: true, adverts: await collect(c, fd, groups, options, send, errno) };
  } finally {
    c.close(fd);
  }
}

async function collect(c: NonNullable<typeof libc>, fd: number, target: number[], options: { timeoutMs?: number; signal?: AbortSignal }, send: () => number, errno: () => number): Promise<Advert[]> {
  const timeoutMs = options.timeoutMs ?? 500;
  const buffer = new Uint8Array(1500);
  const from = new Uint8Array(28);
  const fromLength = new Uint32Array(1);
  const seen = new Map<string, Advert>();
  const start = performance.now();
  let resent = false;
  while (performance.now() - start < timeoutMs && !options.signal?.aborted) {
    fromLength[0] = from.length;
    const n = Number(c.recvfrom(fd, ffi().ptr(buffer), buffer.length, MSG_DONTWAIT, ffi().ptr(from), ffi().ptr(fromLength)));
    if (n >= 0) {
      const advert = parseAdvert(buffer.subarray(0, n), target);
      if (advert && !seen.has(advert.mac)) seen.set(advert.mac, advert);
      continue;
    }
    if (FATAL_ERRNO.has(errno())) break;
    // A second solicitation half-way, in case the first was lost.
    if (!resent && performance.now() - start > timeoutMs / 2) resent = send() >= 0;
    await Bun.sleep(5);
  }
  return [...seen.values()];
}
