import { describe, expect, test } from "bun:test";
import { DnsDecodeError, DnsEncodeError, RR, encodeQuery, splitName, type Message } from "../../../plugins/mdns/dns.ts";
import { decodeMessage } from "../../../plugins/mdns/dns-decode.ts";
import { formatIPv6Bytes as formatIpv6 } from "../../../core/net.ts";
import { defaultFlags, encodeMessage, ipv6Bytes } from "../../helpers/dns-encode.ts";

/** Bytes from hex with spaces; `name("a.b")` gives its uncompressed wire form. */
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const wireName = (name: string) => cat(...name.split(".").map((l) => cat(Uint8Array.of(l.length), new TextEncoder().encode(l))), Uint8Array.of(0));
/** A response header: id 0, QR+AA, with the given counts. */
const header = (qd: number, an: number, ns = 0, ar = 0) => Uint8Array.of(0, 0, 0x84, 0, 0, qd, 0, an, 0, ns, 0, ar);
/** TYPE, CLASS IN with cache-flush, TTL 120, RDLENGTH. */
const rrHead = (type: number, rdlength: number) => Uint8Array.of(0, type, 0x80, 1, 0, 0, 0, 120, rdlength >> 8, rdlength & 0xff);

function rejects(bytes: Uint8Array): DnsDecodeError {
  try {
    decodeMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(DnsDecodeError);
    return error as DnsDecodeError;
  }
  throw new Error("decodeMessage accepted the packet");
}

describe("decoding a real responder's packet", () => {
  test("reads an avahi A answer with the cache-flush bit (packet from avahi issue #448)", () => {
    const m = decodeMessage(hex("0000 8400 0000 0001 0000 0000 094e43432d3734323130 056c6f63616c 00 0001 8001 00000078 0004 c0a80072"));
    expect(m.flags).toEqual(defaultFlags({ response: true, authoritative: true }));
    expect(m.answers).toEqual([{ name: "NCC-74210.local", type: RR.A, class: 1, cacheFlush: true, ttl: 120, data: "192.168.0.114" }]);
  });

  test("follows a backward compression pointer to an earlier name", () => {
    const q = cat(wireName("NixOS.local"), Uint8Array.of(0, 28, 0, 1));
    const answer = cat(Uint8Array.of(0xc0, 12), rrHead(RR.AAAA, 16), ipv6Bytes("fe80::47"));
    const m = decodeMessage(cat(header(1, 1), q, answer));
    expect(m.questions[0]).toEqual({ name: "NixOS.local", type: 28, class: 1, unicastResponse: false });
    expect(m.answers[0]!.name).toBe("NixOS.local");
    expect(m.answers[0]!.data).toBe("fe80::47");
  });

  test("accepts a name of exactly 255 bytes", () => {
    const name = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
    expect(wireName(name).length).toBe(255);
    expect(decodeMessage(cat(header(1, 0), wireName(name), Uint8Array.of(0, 1, 0, 1))).questions[0]!.name).toBe(name);
  });

  test("escapes a dot inside a label so it cannot pass for a label boundary", () => {
    const q = cat(Uint8Array.of(3), new TextEncoder().encode("a.b"), wireName("local"), Uint8Array.of(0, 1, 0, 1));
    expect(decodeMessage(cat(header(1, 0), q)).questions[0]!.name).toBe("a\\.b.local");
  });
});

describe("the decoder refuses", () => {
  test("a header under 12 bytes, at every length from 0 to 11", () => {
    for (let n = 0; n < 12; n++) expect(rejects(new Uint8Array(n)).code).toBe("E_DNS_SHORT_HEADER");
  });

  test("an answer count larger than the answers present", () => {
    const one = cat(wireName("NixOS.local"), rrHead(RR.A, 4), Uint8Array.of(10, 0, 0, 1));
    expect(rejects(cat(header(0, 2), one)).code).toBe("E_DNS_TRUNCATED");
  });

  test("a question count with no question behind it", () => {
    expect(rejects(header(1, 0)).code).toBe("E_DNS_TRUNCATED");
  });

  test("an additional count larger than the records present", () => {
    expect(rejects(cat(header(0, 0, 0, 1))).code).toBe("E_DNS_TRUNCATED");
  });

  test("bytes after the last counted record", () => {
    expect(rejects(cat(header(0, 0), Uint8Array.of(0))).code).toBe("E_DNS_TRAILING");
  });

  test("a compression pointer that points forward", () => {
    // question name at 12 is a pointer to 14, where a real name sits after it
    expect(rejects(cat(header(1, 0), Uint8Array.of(0xc0, 14), wireName("x.local"), Uint8Array.of(0, 1, 0, 1))).code).toBe("E_DNS_POINTER_FORWARD");
  });

  test("a compression pointer that points at itself", () => {
    expect(rejects(cat(header(1, 0), Uint8Array.of(1, 0x61, 0xc0, 14), Uint8Array.of(0, 1, 0, 1))).code).toBe("E_DNS_POINTER_SELF");
  });

  test("a compression pointer into the header (below offset 12)", () => {
    for (const target of [0, 5, 11]) expect(rejects(cat(header(1, 0), Uint8Array.of(0xc0, target), Uint8Array.of(0, 1, 0, 1))).code).toBe("E_DNS_POINTER_HEADER");
  });

  test("a compression pointer back into its own name, which would loop", () => {
    // 12: label "a", then a pointer to 12: a.a.a.a… for ever
    expect(rejects(cat(header(1, 0), Uint8Array.of(1, 0x61, 0xc0, 12), Uint8Array.of(0, 1, 0, 1))).code).toBe("E_DNS_POINTER_LOOP");
  });

  test("two compression pointers chasing each other", () => {
    // q1 at 12: "a" → 18 ; q2 at 18: "b" → 14 (q1's pointer) → 18 …
    const q1 = cat(Uint8Array.of(1, 0x61, 0xc0, 18), Uint8Array.of(0, 1, 0, 1));
    const q2 = cat(Uint8Array.of(1, 0x62, 0xc0, 14), Uint8Array.of(0, 1, 0, 1));
    const error = rejects(cat(header(2, 0), q1, q2));
    expect(["E_DNS_POINTER_FORWARD", "E_DNS_POINTER_LOOP"]).toContain(error.code);
  });

  test("a name over 255 bytes, written out", () => {
    const name = Array(5).fill("x".repeat(63)).join(".");
    expect(rejects(cat(header(1, 0), wireName(name), Uint8Array.of(0, 1, 0, 1))).code).toBe("E_DNS_NAME_TOO_LONG");
  });

  test("a name over 255 bytes once a compression pointer is expanded", () => {
    const long = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
    const q1 = cat(wireName(long), Uint8Array.of(0, 1, 0, 1));
    const q2 = cat(Uint8Array.of(1, 0x78, 0xc0, 12), Uint8Array.of(0, 1, 0, 1));
    expect(rejects(cat(header(2, 0), q1, q2)).code).toBe("E_DNS_NAME_TOO_LONG");
  });

  test("a label longer than 63 bytes (its length byte has type bits 0x40)", () => {
    const q = cat(Uint8Array.of(64), new Uint8Array(64).fill(0x61), Uint8Array.of(0, 0, 1, 0, 1));
    expect(rejects(cat(header(1, 0), q)).code).toBe("E_DNS_LABEL_TYPE");
  });

  test("label types 0x40 (extended) and 0x80 (reserved)", () => {
    for (const lead of [0x41, 0x7f, 0x80, 0xbf]) expect(rejects(cat(header(1, 0), Uint8Array.of(lead, 0, 0, 1, 0, 1))).code).toBe("E_DNS_LABEL_TYPE");
  });

  test("an A record whose rdlength is not 4", () => {
    for (const n of [0, 3, 5, 16]) {
      const rr = cat(wireName("h.local"), rrHead(RR.A, n), new Uint8Array(n));
      expect(rejects(cat(header(0, 1), rr)).code).toBe("E_DNS_RDLENGTH");
    }
  });

  test("an AAAA record whose rdlength is not 16", () => {
    for (const n of [0, 4, 15, 17]) {
      const rr = cat(wireName("h.local"), rrHead(RR.AAAA, n), new Uint8Array(n));
      expect(rejects(cat(header(0, 1), rr)).code).toBe("E_DNS_RDLENGTH");
    }
  });

  test("a truncated A record (dns-packet would return 10.0.undefined.undefined)", () => {
    const rr = cat(wireName("h.local"), rrHead(RR.A, 4), Uint8Array.of(10, 0));
    expect(rejects(cat(header(0, 1), rr)).code).toBe("E_DNS_TRUNCATED");
  });

  test("truncated rdata of any type, and a record cut inside its fixed fields", () => {
    const txt = cat(wireName("h.local"), rrHead(RR.TXT, 10), Uint8Array.of(3, 0x61, 0x62));
    expect(rejects(cat(header(0, 1), txt)).code).toBe("E_DNS_TRUNCATED");
    const cut = cat(wireName("h.local"), Uint8Array.of(0, 1, 0x80));
    expect(rejects(cat(header(0, 1), cut)).code).toBe("E_DNS_TRUNCATED");
  });

  test("a label that is not UTF-8 (RFC 6762 §16)", () => {
    expect(rejects(cat(header(1, 0), Uint8Array.of(2, 0xc3, 0x28, 0, 0, 1, 0, 1))).code).toBe("E_DNS_LABEL_UTF8");
  });
});

describe("encoding", () => {
  test("a one-shot query round-trips through the decoder", () => {
    const bytes = encodeQuery(0x1234, "NixOS.local", [RR.A, RR.AAAA]);
    const m = decodeMessage(bytes);
    expect(m.id).toBe(0x1234);
    expect(m.flags.response).toBe(false);
    expect(m.questions.map((q) => [q.name, q.type, q.class, q.unicastResponse])).toEqual([["NixOS.local", 1, 1, false], ["NixOS.local", 28, 1, false]]);
  });

  test("a response with every section round-trips", () => {
    const message: Message = {
      id: 7,
      flags: defaultFlags({ response: true, authoritative: true }),
      questions: [{ name: "NixOS.local", type: RR.AAAA, class: 1, unicastResponse: true }],
      answers: [
        { name: "NixOS.local", type: RR.AAAA, class: 1, cacheFlush: true, ttl: 10, data: "fe80::47" },
        { name: "NixOS.local", type: RR.A, class: 1, cacheFlush: false, ttl: 4294967295, data: "169.254.10.1" },
      ],
      authorities: [{ name: "x\\.y.local", type: RR.TXT, class: 1, cacheFlush: false, ttl: 0, data: Uint8Array.of(1, 0x61) }],
      additionals: [{ name: "NixOS.local", type: RR.NSEC, class: 1, cacheFlush: true, ttl: 120, data: new Uint8Array(0) }],
    };
    expect(decodeMessage(encodeMessage(message))).toEqual(message);
  });

  test("refuses a label over 63 bytes, a name over 255 bytes and an empty label", () => {
    expect(() => encodeQuery(0, `${"a".repeat(64)}.local`, [1])).toThrow(DnsEncodeError);
    expect(() => encodeQuery(0, Array(5).fill("a".repeat(60)).join("."), [1])).toThrow(DnsEncodeError);
    expect(() => encodeQuery(0, "a..local", [1])).toThrow(DnsEncodeError);
  });

  test("splits presentation names on unescaped dots only", () => {
    expect(splitName("a\\.b.local.")).toEqual(["a.b", "local"]);
    expect(splitName(".")).toEqual([]);
  });
});

describe("IPv6 text form (RFC 5952 §4)", () => {
  const vectors: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0001:0001:0001:0001:0001", "2001:db8:0:1:1:1:1:1"],
    ["0000:0000:0000:0000:0000:0000:0000:0000", "::"],
    ["fe80:0000:0000:0000:0000:0000:0000:0047", "fe80::47"],
    ["2001:0db8:0000:0000:0001:0000:0000:0000", "2001:db8:0:0:1::"],
  ];
  for (const [full, short] of vectors)
    test(`${full} → ${short}`, () => {
      const bytes = ipv6Bytes(full);
      expect(formatIpv6(bytes)).toBe(short);
      expect(ipv6Bytes(short)).toEqual(bytes);
    });
});
