import { describe, expect, test } from "bun:test";
import { explain, renderExplanation } from "../../../plugins/ipv6-lla/explain.ts";
import { parseLinks } from "../../../plugins/ipv6-lla/links.ts";
import { renderDiscovery } from "../../../plugins/ipv6-lla/commands/discover.ts";

const links = parseLinks(
  JSON.stringify([
    { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP", "LOWER_UP"], link_type: "loopback" },
    { ifindex: 2, ifname: "enp3s0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], link_type: "ether", address: "52:54:00:12:34:56" },
    { ifindex: 3, ifname: "wlp2s0", flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], link_type: "ether", address: "52:54:00:12:34:57" },
  ]),
  JSON.stringify([
    { ifname: "enp3s0", addr_info: [{ local: "fe80::5054:ff:fe12:3456", scope: "link" }] },
    { ifname: "wlp2s0", addr_info: [{ local: "fe80::5054:ff:fe12:3457", scope: "link" }] },
  ]),
);

describe("flk lla explain", () => {
  test("gives the mnemonic (47 = n+i+x) and one ssh command per usable interface", () => {
    const e = explain("fe80::47", links);
    expect(e.mnemonic).toContain("n=14 i=9 x=24; 47 = n+i+x");
    // The mnemonic's arithmetic is the alphabet's: n, i, x.
    expect(["n", "i", "x"].map((c) => c.charCodeAt(0) - 96).reduce((a, b) => a + b)).toBe(47);
    expect(e.commands).toEqual([
      { iface: "enp3s0", command: "ssh nixos@fe80::47%enp3s0" },
      { iface: "wlp2s0", command: "ssh nixos@fe80::47%wlp2s0" },
    ]);
    expect(renderExplanation(e)).toContain("  ssh nixos@fe80::47%wlp2s0");
  });

  test("with a site's own address it shows that address and says the mnemonic is for the default", () => {
    const text = renderExplanation(explain("fe80::4:7", links));
    expect(text).toContain("ssh nixos@fe80::4:7%enp3s0");
    expect(text).toContain("flk's default is fe80::47");
  });
});

describe("flk lla discover text", () => {
  test("lists neighbours with their flags and, on a collision, both EUI-64 addresses with ssh commands", () => {
    const text = renderDiscovery({
      address: "fe80::47",
      interfaces: ["eth0"],
      neighbours: [
        { iface: "eth0", mac: "02:00:00:00:00:01", address: "fe80::47", flags: ["static"], router: false },
        { iface: "eth0", mac: "02:00:00:00:00:02", address: "fe80::47", flags: ["static"], router: false },
        { iface: "eth0", mac: "02:00:00:00:00:03", address: "fe80::ff:fe00:3", flags: ["eui64"], router: true },
      ],
      collisions: [{ iface: "eth0", address: "fe80::47", count: 2, hosts: [{ mac: "02:00:00:00:00:01", eui64: "fe80::ff:fe00:1" }, { mac: "02:00:00:00:00:02", eui64: "fe80::ff:fe00:2" }] }],
      notes: [],
    });
    expect(text).toContain("eth0: 3 neighbours");
    expect(text).toMatch(/fe80::47 +02:00:00:00:00:01  static/);
    expect(text).toMatch(/fe80::ff:fe00:3 +02:00:00:00:00:03  eui64 router/);
    expect(text).toContain("eth0: fe80::47 collides: 2 hosts answer on it.");
    expect(text).toContain("ssh nixos@fe80::ff:fe00:1%eth0    # 02:00:00:00:00:01");
    expect(text).toContain("ssh nixos@fe80::ff:fe00:2%eth0    # 02:00:00:00:00:02");
  });
});
