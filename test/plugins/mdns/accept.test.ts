import { expect, test } from "bun:test";
import { RR, type ResourceRecord } from "../../../plugins/mdns/dns.ts";
import { defaultFlags, encodeMessage } from "../../helpers/dns-encode.ts";
import { MAX_ADDRESSES_PER_REPLY, MAX_RECORDS_PER_REPLY, acceptResponse, preferenceOrder, type FoundAddress, type Sender } from "../../../plugins/mdns/accept.ts";
import { inSubnet, type Link } from "../../../plugins/mdns/links.ts";

const link: Link = { name: "eth0", index: 2, ipv4: [{ address: "192.168.7.20", prefix: 24 }], ipv6: true, ipv6Prefixes: [{ address: "2001:db8::20", prefix: 64 }] };
const v4: Sender = { address: "192.168.7.33", port: 5353, family: 4 };
const v6: Sender = { address: "fe80::1%eth0", port: 5353, family: 6 };
const rr = (name: string, type: number, data: string | Uint8Array, ttl = 120): ResourceRecord => ({ name, type, class: 1, cacheFlush: true, ttl, data }) as ResourceRecord;
const reply = (answers: ResourceRecord[], flags = {}) =>
  encodeMessage({ id: 0, flags: defaultFlags({ response: true, authoritative: true, ...flags }), questions: [], answers, authorities: [], additionals: [] });
const good = reply([rr("nixos.local", RR.A, "192.168.7.33"), rr("NixOS.local", RR.AAAA, "fe80::47"), rr("NixOS.local", RR.AAAA, "2001:db8::5")]);
const both = [RR.A, RR.AAAA];

test("takes A and AAAA answers for the asked name, case-insensitively, and scopes link-local IPv6 to the link", () => {
  expect(acceptResponse(good, v4, link, "NixOS.local", both)).toEqual({
    ok: true,
    addresses: [
      { address: "192.168.7.33", family: 4, source: "mdns" },
      { address: "fe80::47", scope: "eth0", family: 6, source: "mdns" },
      { address: "2001:db8::5", family: 6, source: "mdns" },
    ],
  });
});

test("keeps only the families asked for", () => {
  const verdict = acceptResponse(good, v6, link, "NixOS.local", [RR.AAAA]);
  expect(verdict.ok && verdict.addresses.map((a) => a.family)).toEqual([6, 6]);
});

test("ignores replies from a source port other than 5353 (RFC 6762 §6)", () => {
  expect(acceptResponse(good, { ...v4, port: 53 }, link, "NixOS.local", both)).toMatchObject({ ok: false, reason: expect.stringContaining("port 53") });
});

test("ignores IPv4 replies from outside the link's subnets, but takes 169.254/16", () => {
  expect(acceptResponse(good, { ...v4, address: "10.1.1.1" }, link, "NixOS.local", both).ok).toBe(false);
  expect(acceptResponse(good, { ...v4, address: "169.254.3.4" }, link, "NixOS.local", both).ok).toBe(true);
});

test("ignores IPv6 replies that are not link-local or arrived on another interface", () => {
  expect(acceptResponse(good, { ...v6, address: "2001:db8::9" }, link, "NixOS.local", both).ok).toBe(false);
  expect(acceptResponse(good, { ...v6, address: "fe80::1%wlan0" }, link, "NixOS.local", both).ok).toBe(false);
  expect(acceptResponse(good, { ...v6, address: "fe80::1%2" }, link, "NixOS.local", both).ok).toBe(true);
});

test("ignores malformed packets, queries, non-zero opcode or rcode, and answers for another name", () => {
  const cases: [Uint8Array, string][] = [
    [good.subarray(0, good.length - 3), "malformed"],
    [reply([rr("NixOS.local", RR.A, "192.168.7.33")], { response: false }), "query"],
    [reply([rr("NixOS.local", RR.A, "192.168.7.33")], { opcode: 2 }), "opcode 2"],
    [reply([rr("NixOS.local", RR.A, "192.168.7.33")], { rcode: 3 }), "rcode 3"],
    [reply([rr("NixOS2.local", RR.A, "192.168.7.33")]), 'a record for "NixOS2.local", not NixOS.local'],
    [reply([rr("NixOS.local", RR.PTR, Uint8Array.of(0))]), "no A/AAAA answer"],
  ];
  for (const [bytes, reason] of cases) expect(acceptResponse(bytes, v4, link, "NixOS.local", both)).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
});

test("prefers IPv4, then routable IPv6, then link-local IPv6", () => {
  const a = (address: string, family: 4 | 6, scope?: string): FoundAddress => ({ address, family, scope, source: "mdns" });
  const order = preferenceOrder([a("fe80::47", 6, "eth0"), a("2001:db8::5", 6), a("169.254.1.2", 4), a("fe80::1", 6, "eth0")]);
  expect(order.map((x) => x.address)).toEqual(["169.254.1.2", "2001:db8::5", "fe80::47", "fe80::1"]);
});

test("subnet membership by prefix length", () => {
  expect(inSubnet("192.168.7.200", "192.168.7.1", 24)).toBe(true);
  expect(inSubnet("192.168.8.1", "192.168.7.1", 24)).toBe(false);
  expect(inSubnet("10.0.0.1", "10.0.0.1", 32)).toBe(true);
  expect(inSubnet("10.0.0.2", "10.0.0.1", 32)).toBe(false);
});

test("a record counts only with TTL > 0 and a unicast address usable on the arrival link (a spoofed 127.0.0.1 does not)", () => {
  const refused: Array<[ResourceRecord, string]> = [
    [rr("NixOS.local", RR.A, "192.168.7.33", 0), "TTL 0"],
    [rr("NixOS.local", RR.A, "127.0.0.1"), "loopback"],
    [rr("NixOS.local", RR.A, "0.0.0.0"), "unspecified"],
    [rr("NixOS.local", RR.A, "224.0.0.251"), "multicast"],
    [rr("NixOS.local", RR.A, "255.255.255.255"), "broadcast"],
    [rr("NixOS.local", RR.A, "192.168.7.255"), "broadcast address of eth0's subnet"],
    [rr("NixOS.local", RR.A, "10.9.9.9"), "not on eth0's subnets"],
    [rr("NixOS.local", RR.A, "169.254.255.255"), "broadcast or network address of 169.254/16"],
    [rr("NixOS.local", RR.A, "169.254.0.0"), "broadcast or network address of 169.254/16"],
    [rr("NixOS.local", RR.AAAA, "::1"), "loopback"],
    [rr("NixOS.local", RR.AAAA, "::"), "unspecified"],
    [rr("NixOS.local", RR.AAAA, "ff02::fb"), "multicast"],
    [rr("NixOS.local", RR.AAAA, "::ffff:127.0.0.1"), "IPv4-mapped"],
    // Off-link IPv6: not fe80::/10 and not inside eth0's 2001:db8::/64 (the IPv6 twin of 10.9.9.9 above).
    [rr("NixOS.local", RR.AAAA, "2001:db8:1::66"), "neither link-local nor inside eth0's IPv6 prefixes (2001:db8::20/64)"],
    [rr("NixOS.local", RR.AAAA, "fd00::66"), "neither link-local nor inside"],
  ];
  for (const [record, reason] of refused) expect(acceptResponse(reply([record]), v4, link, "NixOS.local", both)).toMatchObject({ ok: false, reason: expect.stringContaining(reason) });
  // A bad record does not spoil the good one beside it.
  const mixed = acceptResponse(reply([rr("NixOS.local", RR.A, "127.0.0.1"), rr("NixOS.local", RR.A, "169.254.4.4")]), v4, link, "NixOS.local", both);
  expect(mixed).toEqual({ ok: true, addresses: [{ address: "169.254.4.4", family: 4, source: "mdns" }] });
});

test("takes a bounded number of records per reply", () => {
  const many = Array.from({ length: 200 }, (_, i) => rr("NixOS.local", RR.A, `192.168.7.${i + 1}`));
  const verdict = acceptResponse(reply(many), v4, link, "NixOS.local", both);
  expect(verdict.ok && verdict.addresses.length).toBe(MAX_ADDRESSES_PER_REPLY);
  // Past the first MAX_RECORDS_PER_REPLY records nothing is even looked at.
  const late = [...Array.from({ length: MAX_RECORDS_PER_REPLY }, () => rr("NixOS.local", RR.A, "127.0.0.1")), rr("NixOS.local", RR.A, "192.168.7.9")];
  expect(acceptResponse(reply(late), v4, link, "NixOS.local", both).ok).toBe(false);
});

test("an AAAA counts only link-local (scoped to the link it arrived on) or inside a prefix of that link", () => {
  const v6only = (address: string, on: Link = link) => acceptResponse(reply([rr("NixOS.local", RR.AAAA, address)]), v6, on, "NixOS.local", [RR.AAAA]);
  expect(v6only("fe80::47")).toEqual({ ok: true, addresses: [{ address: "fe80::47", scope: "eth0", family: 6, source: "mdns" }] });
  expect(v6only("febf::1").ok).toBe(true); // fe80::/10 is link scope all through (core isLinkLocal)
  expect(v6only("2001:db8::ffff:1").ok).toBe(true);
  expect(v6only("2001:db8:0:1::1").ok).toBe(false);
  // A link with no global prefix believes no global AAAA.
  expect(v6only("2001:db8::66", { ...link, ipv6Prefixes: [] })).toMatchObject({ ok: false, reason: expect.stringContaining("(none)") });
  // Prefix lengths that do not fall on a 16-bit boundary.
  expect(v6only("2001:db8:ff::1", { ...link, ipv6Prefixes: [{ address: "2001:db8:80::1", prefix: 41 }] }).ok).toBe(true);
  expect(v6only("2001:db8:7f::1", { ...link, ipv6Prefixes: [{ address: "2001:db8:80::1", prefix: 41 }] }).ok).toBe(false);
});
