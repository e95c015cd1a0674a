/**
 * The kernel is the oracle for EUI-64: with addr_gen_mode eui64 it derives a
 * link's fe80:: address from the MAC itself. For many random unicast MACs,
 * set the MAC on a veth, bring it up, and compare the kernel's address with
 * flk's (the library for all, the compiled binary for a few).
 */
import { expect } from "bun:test";
import { systemTest } from "../helpers/require.ts";
import { createLink, type Namespace } from "../helpers/netns.ts";
import { flk } from "../helpers/binary.ts";
import { eui64LinkLocal } from "../../plugins/ipv6-lla/eui64.ts";

const it = systemTest(["ip"]);

/** Random unicast MACs; octets are often zero so the RFC 5952 "::" lands in every position. */
function randomMacs(count: number, seed: number): string[] {
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const macs = ["02:00:00:00:00:01", "00:00:00:00:00:01", "fe:ff:ff:ff:ff:ff", "00:e0:4c:05:17:f3", "52:54:00:12:34:56"];
  while (macs.length < count) {
    const bytes = Array.from({ length: 6 }, () => (rand() % 3 === 0 ? 0 : rand()));
    bytes[0] = bytes[0]! & 0xfe; // unicast: the kernel refuses a multicast MAC
    if (bytes.every((b) => b === 0)) continue;
    macs.push(bytes.map((b) => b.toString(16).padStart(2, "0")).join(":"));
  }
  return macs;
}

/** Set `mac` on the namespace's veth (down, set, up) and return the link-local address the kernel derives. */
async function kernelLinkLocal(ns: Namespace, mac: string): Promise<string> {
  const set = await ns.exec(["ip", "-batch", "-"], { input: `link set ${ns.iface} down\nlink set ${ns.iface} address ${mac}\nlink set ${ns.iface} up\n` });
  if (set.code !== 0) throw new Error(`setting ${mac} failed: ${set.stderr}`);
  for (let i = 0; i < 200; i++) {
    const r = await ns.exec(["ip", "-j", "-6", "addr", "show", "dev", ns.iface, "scope", "link"]);
    const local = (JSON.parse(r.stdout || "[]") as Array<{ addr_info: Array<{ local?: string }> }>)[0]?.addr_info.find((a) => a.local)?.local;
    if (local) return local;
    await Bun.sleep(5);
  }
  throw new Error(`the kernel gave ${ns.iface} no link-local address for ${mac}`);
}

it("flk lla eui64 matches the kernel's link-local address for 60 random unicast MACs", async () => {
  const link = await createLink();
  try {
    // Down drops the old addresses (keep_addr_on_down=0), so each up derives afresh from the new MAC.
    await link.a.exec(["sysctl", "-qw", `net.ipv6.conf.${link.a.iface}.addr_gen_mode=0`, `net.ipv6.conf.${link.a.iface}.keep_addr_on_down=0`]);
    const mismatches: string[] = [];
    const macs = randomMacs(60, 2024);
    for (const mac of macs) {
      const kernel = await kernelLinkLocal(link.a, mac);
      const ours = eui64LinkLocal(mac);
      if (kernel !== ours) mismatches.push(`${mac}: kernel ${kernel}, flk ${ours}`);
    }
    expect(mismatches).toEqual([]);
    // A few through the compiled binary, in the forms operators paste.
    for (const [i, mac] of macs.slice(0, 5).entries()) {
      const form = [mac, mac.toUpperCase().replaceAll(":", "-"), mac.replaceAll(":", ""), mac, mac][i]!;
      const r = await flk(["lla", "eui64", form, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ mac, address: await kernelLinkLocal(link.a, mac) });
    }
  } finally {
    await link.cleanup();
  }
});
