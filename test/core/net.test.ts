import { describe, expect, test } from "bun:test";
import { canonicalIPv6, formatIPv6, formatIPv6Bytes, isLinkLocal, isLinkLocalText, linkProblem, parseIPv6, parseLiteralAddress, unicastProblem, withScope } from "../../core/net.ts";

describe("IPv6 text (RFC 4291 §2.2 in, RFC 5952 §4 out)", () => {
  // RFC 5952 §2 and §4 examples: every form on the left has the one canonical form on the right.
  const vectors: Array<[string, string]> = [
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8::1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:0:1::1", "2001:db8::1:0:0:1"],
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1"],
    ["2001:db8::0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["FE80:0000:0000:0000:0000:0000:0000:0047", "fe80::47"],
    ["::ffff:192.0.2.1", "::ffff:c000:201"],
  ];
  for (const [input, canonical] of vectors) test(`writes ${input} as ${canonical}`, () => expect(canonicalIPv6(input)).toBe(canonical));

  const invalid = ["", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "g::", "1.2.3.4::", "::1.2.3.256", "fe80::47%eth0", "fe80::47/64", ":1::", "1::2:"];
  for (const text of invalid) test(`rejects '${text}'`, () => expect(parseIPv6(text)).toBeUndefined());

  test("formatting is idempotent and parse(format(x)) == x for random addresses, zero runs favoured", () => {
    let seed = 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16);
    for (let i = 0; i < 3000; i++) {
      const groups = Array.from({ length: 8 }, () => (rand() % 3 === 0 ? rand() : 0));
      const text = formatIPv6(groups);
      expect(parseIPv6(text)).toEqual(groups);
      expect(canonicalIPv6(text)).toBe(text);
      expect(text).not.toMatch(/(^|:)0[0-9a-f]/);
      expect(text.split("::").length).toBeLessThanOrEqual(2);
      // An independent serializer: WHATWG URL writes IPv6 hosts with the same RFC 5952 compression.
      expect(new URL(`http://[${groups.map((g) => g.toString(16)).join(":")}]/`).hostname).toBe(`[${text}]`);
    }
  });

  test("bytes format the same way (an AAAA record)", () => {
    expect(formatIPv6Bytes(Uint8Array.of(0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x47))).toBe("fe80::47");
  });
});

describe("the one link-local test: fe80::/10 (RFC 4291 §2.4), as the kernel scopes it", () => {
  test("fe80::/10 is link-local, whatever the next 54 bits; nothing outside is", () => {
    for (const a of ["fe80::47", "fe80:1::47", "febf::1", "FE80:0::47%eth0"]) expect(isLinkLocalText(a)).toBe(true);
    for (const a of ["fec0::1", "fe7f::1", "2001:db8::47", "::1", "10.0.0.1", "fe80::47::"]) expect(isLinkLocalText(a)).toBe(false);
    expect(isLinkLocal(parseIPv6("fe80::47")!)).toBe(true);
  });
});

describe("addresses", () => {
  test("a literal address is split from its scope and made canonical; a name is not an address", () => {
    expect(parseLiteralAddress("[FE80:0::47%eth0]")).toEqual({ address: "fe80::47", scope: "eth0", family: 6 });
    expect(parseLiteralAddress("192.0.2.7")).toEqual({ address: "192.0.2.7", family: 4 });
    expect(parseLiteralAddress("NixOS")).toBeUndefined();
    expect(parseLiteralAddress("192.0.2.07")).toBeUndefined();
    expect(withScope("fe80::47", "eth0")).toBe("fe80::47%eth0");
    expect(withScope("192.0.2.7")).toBe("192.0.2.7");
  });

  test("loopback, unspecified, multicast, broadcast and v4-mapped addresses are no host's unicast address", () => {
    const refused: Array<[string, 4 | 6]> = [["127.0.0.1", 4], ["0.0.0.0", 4], ["224.0.0.251", 4], ["255.255.255.255", 4], ["::1", 6], ["::", 6], ["ff02::fb", 6], ["::ffff:127.0.0.1", 6]];
    for (const [a, f] of refused) expect(unicastProblem(a, f)).toBeDefined();
    for (const [a, f] of [["169.254.1.2", 4], ["192.0.2.7", 4], ["fe80::47", 6], ["2001:db8::1", 6]] as const) expect(unicastProblem(a, f)).toBeUndefined();
  });

  test("one judge of a usable link", () => {
    const ok = { name: "eth0", up: true, carrier: true, loopback: false, multicast: true, ipv6LinkLocal: true };
    expect(linkProblem(ok, { needIpv6LinkLocal: true })).toBeUndefined();
    expect(linkProblem({ ...ok, loopback: true })).toContain("loopback");
    expect(linkProblem({ ...ok, up: false })).toContain("ip link set eth0 up");
    expect(linkProblem({ ...ok, carrier: false })).toContain("no carrier");
    expect(linkProblem({ ...ok, ipv6LinkLocal: false }, { needIpv6LinkLocal: true })).toContain("no IPv6 link-local");
    expect(linkProblem({ ...ok, ipv6LinkLocal: false })).toBeUndefined();
  });
});
