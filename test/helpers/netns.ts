/**
 * Network namespaces joined by veth pairs, for tests that cross a real link.
 * Every name carries a per-process prefix so parallel test runs do not meet.
 */
import { randomBytes } from "node:crypto";
import { must, sh } from "./sh.ts";

export interface Namespace {
  name: string;
  /** The veth end inside this namespace (interface name). */
  iface: string;
  /** Run argv inside the namespace. */
  exec(argv: string[], options?: { input?: string; env?: Record<string, string>; cwd?: string }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Spawn a long-running process inside the namespace. */
  spawn(argv: string[], options?: { env?: Record<string, string> }): Bun.Subprocess<"ignore", "pipe", "pipe">;
}

export interface Link {
  a: Namespace;
  b: Namespace;
  /** Delete the namespaces (and with them the veth pair). */
  cleanup(): Promise<void>;
}

/** The Namespace handle of an existing network namespace `name` whose link is `iface`. */
export function namespace(name: string, iface: string): Namespace {
  return {
    name,
    iface,
    exec: (argv, options = {}) => sh(["ip", "netns", "exec", name, ...argv], options),
    spawn: (argv, options = {}) =>
      Bun.spawn(["ip", "netns", "exec", name, ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...options.env } }),
  };
}

/** SIGKILL every process left in network namespace `name`, and wait until none is left (at most 2 s). */
export async function killAll(name: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const pids = (await sh(["ip", "netns", "pids", name])).stdout.split("\n").filter(Boolean).map(Number);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await Bun.sleep(50);
  }
}

/** A short unique tag for names (interface names are at most 15 bytes). */
export function tag(): string {
  return randomBytes(3).toString("hex");
}

/**
 * Two namespaces `a` and `b` joined by a veth pair, both up, loopback up,
 * IPv6 DAD off (tests want addresses usable at once) unless `dad` is set.
 * Optional MACs for each end; IPv4 link addresses when given (CIDR).
 */
export async function createLink(options: { macA?: string; macB?: string; ipv4A?: string; ipv4B?: string; dad?: boolean; prefix?: string } = {}): Promise<Link> {
  const t = tag();
  const prefix = options.prefix ?? "flk";
  const [nsA, nsB] = [`${prefix}-a-${t}`, `${prefix}-b-${t}`];
  const [ifA, ifB] = [`fa${t}`, `fb${t}`];
  await must(["ip", "netns", "add", nsA]);
  await must(["ip", "netns", "add", nsB]);
  const a = namespace(nsA, ifA);
  const b = namespace(nsB, ifB);
  const cleanup = async () => {
    // A namespace outlives `ip netns del` while a process is still in it (a
    // daemon, an ssh session, a test interrupted mid-way): end those first.
    for (const ns of [nsA, nsB]) await killAll(ns);
    await sh(["ip", "netns", "del", nsA]);
    await sh(["ip", "netns", "del", nsB]);
  };
  try {
    await must(["ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB]);
    for (const [ns, iface, mac, v4] of [[a, ifA, options.macA, options.ipv4A], [b, ifB, options.macB, options.ipv4B]] as const) {
      if (!options.dad) await ns.exec(["sysctl", "-qw", `net.ipv6.conf.${iface}.accept_dad=0`]);
      if (mac) await must(["ip", "netns", "exec", ns.name, "ip", "link", "set", iface, "address", mac]);
      if (v4) await must(["ip", "netns", "exec", ns.name, "ip", "addr", "add", v4, "dev", iface]);
      await must(["ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up"]);
      await must(["ip", "netns", "exec", ns.name, "ip", "link", "set", iface, "up"]);
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { a, b, cleanup };
}

/** Wait until `iface` in `ns` has a non-tentative IPv6 link-local address; returns it. */
export async function linkLocal(ns: Namespace, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await ns.exec(["ip", "-j", "-6", "addr", "show", "dev", ns.iface, "scope", "link"]);
    const info = JSON.parse(r.stdout || "[]") as Array<{ addr_info: Array<{ local: string; tentative?: boolean }> }>;
    const addr = info[0]?.addr_info.find((x) => x.local.startsWith("fe80:") && !x.tentative);
    if (addr) return addr.local;
    await Bun.sleep(50);
  }
  throw new Error(`no link-local address on ${ns.iface} in ${ns.name} after ${timeoutMs} ms`);
}
