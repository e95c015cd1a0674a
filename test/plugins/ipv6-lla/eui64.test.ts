import { describe, expect, test } from "bun:test";
import { isFlkError } from "../../../core/index.ts";
import { eui64Answer, eui64LinkLocal, formatMac, interfaceId, macOfLinkLocal, parseMac } from "../../../plugins/ipv6-lla/eui64.ts";
import { parseIPv6 } from "../../../core/net.ts";

/** Published pairs: the two, Cisco's IPv6 addressing guide example, and locally administered / all-ones-device cases worked by hand from RFC 4291 appendix A. */
const GOLDEN: Array<[string, string]> = [
  ["00:e0:4c:05:17:f3", "fe80::2e0:4cff:fe05:17f3"],
  ["52:54:00:12:34:56", "fe80::5054:ff:fe12:3456"],
  ["00:90:27:17:fc:0f", "fe80::290:27ff:fe17:fc0f"],
  // Universal/local bit already set (locally administered): inverting clears it, so the id starts with 0 and "::" swallows it.
  ["02:00:00:00:00:01", "fe80::ff:fe00:1"],
  ["02:00:00:00:00:00", "fe80::ff:fe00:0"],
  ["fe:ff:ff:ff:ff:ff", "fe80::fcff:ffff:feff:ffff"],
];

describe("flk lla eui64: modified EUI-64 (RFC 4291 appendix A)", () => {
  for (const [mac, address] of GOLDEN) test(`derives ${address} from ${mac}`, () => expect(eui64LinkLocal(mac)).toBe(address));

  test("inverts only the universal/local bit and inserts ff:fe between the halves", () => {
    expect(Array.from(interfaceId(parseMac("00:e0:4c:05:17:f3")))).toEqual([0x02, 0xe0, 0x4c, 0xff, 0xfe, 0x05, 0x17, 0xf3]);
  });

  test("accepts colons, dashes, no separators, Cisco dots, any case, and octets without their leading zero (macOS arp)", () => {
    const forms = ["00:e0:4c:05:17:f3", "00-E0-4C-05-17-F3", "00e04c0517f3", "00E0.4C05.17F3", "0:e0:4c:5:17:f3", "  00:e0:4c:05:17:f3\n"];
    for (const form of forms) expect(eui64Answer(form)).toEqual({ mac: "00:e0:4c:05:17:f3", address: "fe80::2e0:4cff:fe05:17f3" });
  });

  const refused: Array<[string, RegExp]> = [
    ["52:54:00:12:34", /expected a MAC like 52:54:00:12:34:56.*got '52:54:00:12:34'/],
    ["52:54:00:12:34:56:78", /expected a MAC like/],
    ["52:54:00:12:34:5g", /expected a MAC like/],
    ["52:54-00:12:34:56", /expected a MAC like/],
    ["5254.0012.345", /expected a MAC like/],
    ["", /expected a MAC like/],
    ["01:00:5e:00:00:fb", /multicast or broadcast MAC \(bit 0x01/],
    ["33:33:00:00:00:01", /multicast or broadcast/],
    ["ff:ff:ff:ff:ff:ff", /multicast or broadcast/],
    ["00:00:00:00:00:00", /all-zero MAC/],
  ];
  for (const [text, message] of refused)
    test(`refuses '${text}' with exit 2 and the expected form`, () => {
      let caught: unknown;
      try {
        parseMac(text);
      } catch (error) {
        caught = error;
      }
      expect(isFlkError(caught)).toBe(true);
      expect((caught as { exitCode: number }).exitCode).toBe(2);
      expect((caught as Error).message).toMatch(message);
    });

  test("maps an EUI-64 address back to its MAC, and nothing else", () => {
    expect(macOfLinkLocal("fe80::5054:ff:fe12:3456")).toBe("52:54:00:12:34:56");
    expect(macOfLinkLocal("fe80::47")).toBeUndefined();
    expect(macOfLinkLocal("2001:db8::5054:ff:fe12:3456")).toBeUndefined();
  });
});

/** A small deterministic PRNG so a failing case can be reproduced from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed >>> 16;
  };
}

describe("MAC parser (property and fuzz)", () => {
  test("every unicast MAC, written in any accepted form, parses to the same bytes and round-trips through its EUI-64 address", () => {
    const rand = prng(47);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 6 }, () => rand() & 0xff);
      bytes[0]! &= 0xfe;
      if (bytes.every((b) => b === 0)) continue;
      const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0"));
      const upper = rand() & 1;
      const cased = (s: string) => (upper ? s.toUpperCase() : s);
      const forms = [hex.join(":"), hex.join("-"), hex.join(""), `${hex[0]}${hex[1]}.${hex[2]}${hex[3]}.${hex[4]}${hex[5]}`].map(cased);
      for (const form of forms) expect(formatMac(parseMac(form))).toBe(hex.join(":"));
      const address = eui64LinkLocal(bytes);
      expect(address).toMatch(/^fe80::([0-9a-f]{1,4})(:[0-9a-f]{1,4}){0,3}$/);
      expect(macOfLinkLocal(address)).toBe(hex.join(":"));
      const groups = parseIPv6(address)!;
      expect(groups[5]! & 0xff).toBe(0xff);
      expect(groups[6]! >> 8).toBe(0xfe);
    }
  });

  test("random input either parses to a unicast MAC or is refused with a FlkError, never anything else", () => {
    const rand = prng(4711);
    const alphabet = "0123456789abcdefABCDEFgxz:-. \t";
    for (let i = 0; i < 5000; i++) {
      const length = rand() % 20;
      const text = Array.from({ length }, () => alphabet[rand() % alphabet.length]).join("");
      try {
        const mac = parseMac(text);
        expect(mac.length).toBe(6);
        expect(mac[0]! & 1).toBe(0);
      } catch (error) {
        expect(isFlkError(error)).toBe(true);
      }
    }
  });
});
