/**
 * A small LAN for ipv6-lla system tests: a bridge in a hub namespace and N
 * host namespaces, each joined to it by a veth pair (createLink joins only
 * two). The bridge has no IPv6 of its own and floods multicast (no snooping),
 * so every host sees the others' NDP and ff02::1 traffic like on a switch.
 */
import { namespace, tag, type Namespace } from "../../helpers/netns.ts";
import { must, sh } from "../../helpers/sh.ts";

export interface Host extends Namespace {
  /** The MAC of `iface`. */
  mac: string;
}

export interface Lan {
  hosts: Host[];
  cleanup(): Promise<void>;
}

/** Run argv and throw with its stderr when it fails (test/helpers/sh.ts). */
export { must };

function host(name: string, iface: string, mac: string): Host {
  return { ...namespace(name, iface), mac };
}

/**
 * `macs.length` hosts on one bridge, each with that MAC, EUI-64 address
 * generation, loopback up and DAD off (two hosts may then keep one address,
 * which is the collision the tests need).
 */
export async function createLan(macs: string[]): Promise<Lan> {
  const t = tag();
  const hub = `flk-hub-${t}`;
  const names: string[] = [hub];
  const cleanup = async () => {
    for (const ns of names.reverse()) await sh(["ip", "netns", "del", ns]);
  };
  try {
    await must(["ip", "netns", "add", hub]);
    const inHub = (...argv: string[]) => must(["ip", "netns", "exec", hub, ...argv]);
    await inHub("ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0", "mcast_snooping", "0");
    await inHub("sysctl", "-qw", "net.ipv6.conf.br0.disable_ipv6=1");
    await inHub("ip", "link", "set", "br0", "up");
    const hosts: Host[] = [];
    for (const [i, mac] of macs.entries()) {
      const [ns, iface, port] = [`flk-h${i}-${t}`, `h${i}${t}`, `p${i}${t}`];
      await must(["ip", "netns", "add", ns]);
      names.push(ns);
      await must(["ip", "link", "add", iface, "netns", ns, "type", "veth", "peer", "name", port, "netns", hub]);
      await inHub("sysctl", "-qw", `net.ipv6.conf.${port}.disable_ipv6=1`);
      await inHub("ip", "link", "set", port, "master", "br0", "up");
      const inHost = (...argv: string[]) => must(["ip", "netns", "exec", ns, ...argv]);
      await inHost("sysctl", "-qw", `net.ipv6.conf.${iface}.accept_dad=0`, `net.ipv6.conf.${iface}.addr_gen_mode=0`);
      await inHost("ip", "link", "set", iface, "address", mac);
      await inHost("ip", "link", "set", "lo", "up");
      await inHost("ip", "link", "set", iface, "up");
      hosts.push(host(ns, iface, mac));
    }
    return { hosts, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Wait until `address` is on the host's interface and no longer tentative. */
export async function waitForAddress(h: Host, address: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await h.exec(["ip", "-j", "-6", "addr", "show", "dev", h.iface]);
    const info = JSON.parse(r.stdout || "[]") as Array<{ addr_info: Array<{ local?: string; tentative?: boolean }> }>;
    if (info[0]?.addr_info.some((a) => a.local === address && !a.tentative)) return;
    await Bun.sleep(20);
  }
  throw new Error(`${address} did not appear on ${h.iface} in ${h.name} within ${timeoutMs} ms`);
}
