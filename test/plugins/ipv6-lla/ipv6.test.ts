import { describe, expect, test } from "bun:test";
import { isFlkError } from "../../../core/index.ts";
import { canonicalIPv6, formatIPv6, isLinkLocal, parseIPv6, staticAddress } from "../../../plugins/ipv6-lla/ipv6.ts";

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

  test("a link-local address is fe80::/64 exactly", () => {
    expect(isLinkLocal(parseIPv6("fe80::47")!)).toBe(true);
    expect(isLinkLocal(parseIPv6("fe80:1::47")!)).toBe(false);
    expect(isLinkLocal(parseIPv6("2001:db8::47")!)).toBe(false);
  });

  test("the configured static address is made canonical, and a wrong one is refused naming the setting", () => {
    expect(staticAddress("FE80:0:0::47")).toBe("fe80::47");
    for (const bad of ["2001:db8::47", "fe80::47/64", "fe80::47%eth0", "fe80::", "47"]) {
      let caught: unknown;
      try {
        staticAddress(bad, "flk.toml: [ipv6-lla] address");
      } catch (error) {
        caught = error;
      }
      expect(isFlkError(caught)).toBe(true);
      expect((caught as Error).message).toContain(`flk.toml: [ipv6-lla] address: expected an IPv6 link-local address like fe80::47`);
      expect((caught as Error).message).toContain(`got '${bad}'`);
    }
  });
});
