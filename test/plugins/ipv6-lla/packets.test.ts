import { describe, expect, test } from "bun:test";
import { buildSolicitation, parseAdvert, solicitedNode } from "../../../plugins/ipv6-lla/ndp.ts";
import { parseEchoReplies, parseNeighbours, repliesPerRequest } from "../../../plugins/ipv6-lla/neighbours.ts";
import { chooseLinks, parseLinks } from "../../../plugins/ipv6-lla/links.ts";
import { formatIPv6, parseIPv6 } from "../../../core/net.ts";
import { isFlkError } from "../../../core/index.ts";

const target = parseIPv6("fe80::47")!;

/** A Neighbor Advertisement as RFC 4861 §4.4 lays it out. */
function advert(flags: number, mac: number[], forTarget = target, extra: number[] = []): Uint8Array {
  const bytes = [136, 0, 0, 0, flags, 0, 0, 0, ...forTarget.flatMap((g) => [g >> 8, g & 0xff]), ...extra, 2, 1, ...mac];
  return Uint8Array.from(bytes);
}

describe("neighbour discovery packets (RFC 4861)", () => {
  test("the solicited-node group of fe80::47 is ff02::1:ff00:47 (RFC 4291 §2.7.1)", () => {
    expect(formatIPv6(solicitedNode(target))).toBe("ff02::1:ff00:47");
    expect(formatIPv6(solicitedNode(parseIPv6("fe80::5054:ff:fe12:3456")!))).toBe("ff02::1:ff12:3456");
  });

  test("a solicitation carries type 135, the target, and our MAC as source link-layer option", () => {
    const packet = buildSolicitation(target, Uint8Array.of(0x52, 0x54, 0, 0x12, 0x34, 0x56));
    expect(Array.from(packet)).toEqual([135, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, ...Array(13).fill(0), 0x47, 1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    expect(buildSolicitation(target).length).toBe(24);
  });

  test("an advertisement for the target yields its MAC and flags; one for another target or without the option does not", () => {
    expect(parseAdvert(advert(0x60, [0xa2, 0xe9, 0x34, 0x34, 0x0c, 0x83]), target)).toEqual({ mac: "a2:e9:34:34:0c:83", router: false, solicited: true, override: true });
    expect(parseAdvert(advert(0xe0, [2, 0, 0, 0, 0, 1], target, [14, 1, 0, 0, 0, 0, 0, 0]), target)?.router).toBe(true);
    expect(parseAdvert(advert(0x60, [2, 0, 0, 0, 0, 1], parseIPv6("fe80::48")!), target)).toBeUndefined();
    expect(parseAdvert(advert(0x60, [2, 0, 0, 0, 0, 1]).subarray(0, 24), target)).toBeUndefined();
    expect(parseAdvert(advert(0x60, [2, 0, 0, 0, 0, 1], target, [14, 0]), target)).toBeUndefined();
  });

  test("random bytes never throw and never yield an advert for a packet that is not type 136", () => {
    let seed = 9;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 20000; i++) {
      const packet = Uint8Array.from({ length: rand() % 64 }, rand);
      if (i % 2) packet.set(advert(0x60, [2, 0, 0, 0, 0, 1]).subarray(0, Math.min(packet.length, 24)));
      const parsed = parseAdvert(packet, target);
      if (parsed) {
        expect(packet[0]).toBe(136);
        expect(parsed.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      }
    }
  });
});

describe("iproute2 and ping output", () => {
  test("the neighbour table keeps live rows with a unicast MAC and drops FAILED, INCOMPLETE and MAC-less rows", () => {
    const json = JSON.stringify([
      { dst: "fe80::47", dev: "eth0", lladdr: "A2:E9:34:34:0C:83", state: ["REACHABLE"] },
      { dst: "fe80::5054:ff:fe12:3456", dev: "eth0", lladdr: "52:54:00:12:34:56", router: null, state: ["STALE"] },
      { dst: "fe80::1", dev: "eth0", state: ["FAILED"] },
      { dst: "fe80::2", dev: "eth0", lladdr: "52:54:00:00:00:02", state: ["INCOMPLETE"] },
      { dst: "fe80::3", dev: "eth0", lladdr: "52:54:00:00:00:03", state: ["FAILED"] },
      { dst: "not-an-address", dev: "eth0", lladdr: "52:54:00:00:00:04", state: ["STALE"] },
      { dst: "fe80::5", dev: "gre0", lladdr: "0.0.0.0", state: ["STALE"] },
      null,
      7,
    ]);
    expect(parseNeighbours(json)).toEqual([
      { address: "fe80::47", iface: "eth0", mac: "a2:e9:34:34:0c:83", state: ["REACHABLE"], router: false },
      { address: "fe80::5054:ff:fe12:3456", iface: "eth0", mac: "52:54:00:12:34:56", state: ["STALE"], router: true },
    ]);
  });

  test("garbage instead of JSON gives no neighbours rather than an exception", () => {
    for (const text of ["", "{", "null", '{"dst":1}', "[[[]]]", '[{"dst":{}}]']) expect(parseNeighbours(text)).toEqual([]);
  });

  test("ping replies are read with their sequence, so two answers to one request from fe80::47 show a collision", () => {
    const output = [
      "PING ff02::1%veth0(ff02::1%veth0) 56 data bytes",
      "64 bytes from fe80::181e:cdff:fea0:ffcb%veth0: icmp_seq=1 ttl=64 time=0.219 ms",
      "64 bytes from fe80::47%veth0: icmp_seq=1 ttl=64 time=0.284 ms",
      "64 bytes from fe80::47%veth0: icmp_seq=1 ttl=64 time=0.294 ms (DUP!)",
      "64 bytes from fe80::47%veth0: icmp_seq=2 ttl=64 time=0.045 ms",
      "--- ff02::1%veth0 ping statistics ---",
    ].join("\n");
    const replies = parseEchoReplies(output);
    expect(replies.length).toBe(4);
    expect(repliesPerRequest(replies, "fe80::47")).toBe(2);
    expect(repliesPerRequest(replies, "fe80::181e:cdff:fea0:ffcb")).toBe(1);
    expect(repliesPerRequest(replies, "fe80::99")).toBe(0);
  });

  const linkJson = JSON.stringify([
    { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], link_type: "loopback", address: "00:00:00:00:00:00" },
    { ifindex: 2, ifname: "eth0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], link_type: "ether", address: "52:54:00:12:34:56" },
    { ifindex: 3, ifname: "eth1", flags: ["BROADCAST", "MULTICAST"], link_type: "ether", address: "52:54:00:12:34:57" },
    { ifindex: 4, ifname: "wlan0", flags: ["BROADCAST", "MULTICAST", "NO-CARRIER", "UP"], link_type: "ether", address: "52:54:00:12:34:58" },
  ]);
  const addrJson = JSON.stringify([
    { ifname: "lo", addr_info: [{ family: "inet6", local: "::1", scope: "host" }] },
    { ifname: "eth0", addr_info: [{}, { family: "inet6", local: "fe80::5054:ff:fe12:3456", scope: "link" }] },
  ]);

  test("only links that are up, have a carrier and an IPv6 link-local address are searched", () => {
    const links = parseLinks(linkJson, addrJson);
    expect(links.find((l) => l.name === "eth0")).toEqual({ name: "eth0", index: 2, mac: "52:54:00:12:34:56", up: true, carrier: true, loopback: false, multicast: true, linkLocal: ["fe80::5054:ff:fe12:3456"] });
    expect(chooseLinks(links).map((l) => l.name)).toEqual(["eth0"]);
  });

  test("--iface naming a missing or unusable link is refused with exit 2, saying why", () => {
    const links = parseLinks(linkJson, addrJson);
    const refusal = (iface: string) => {
      try {
        chooseLinks(links, iface);
      } catch (error) {
        expect(isFlkError(error)).toBe(true);
        return `${(error as { exitCode: number }).exitCode} ${(error as Error).message}`;
      }
      return "accepted";
    };
    expect(refusal("eth9")).toMatch(/^2 there is no interface 'eth9'. Interfaces here: lo, eth0, eth1, wlan0/);
    expect(refusal("eth1")).toMatch(/^2 cannot search eth1: it is down \(bring it up with `ip link set eth1 up`\)/);
    expect(refusal("wlan0")).toMatch(/^2 cannot search wlan0: it has no carrier/);
    expect(refusal("lo")).toMatch(/^2 cannot search lo: it is the loopback interface/);
    expect(refusal("eth0")).toBe("accepted");
  });
});
