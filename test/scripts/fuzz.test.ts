/**
 * The fuzz targets of `npm run fuzz` with small counts (the full run is
 * ≥ 1,000,000 packets and ≥ 100,000 key lines): no crash, hang or
 * accepted-invalid input. The seed is fixed here so CI is repeatable;
 * FLK_FUZZ_SEED picks another.
 */
import { expect, test } from "bun:test";
import { fuzzKeys } from "../../scripts/fuzz/keys.ts";
import { fuzzMdns, referenceProblem, unusable } from "../../scripts/fuzz/mdns.ts";
import { rng } from "../../scripts/fuzz/rng.ts";
import { systemTest } from "../helpers/require.ts";

const SEED = Number(process.env.FLK_FUZZ_SEED ?? 20261129);
const it = systemTest(["ssh-keygen"], { root: false });

test("the RFC 1035 reference walker refuses what it must (so an accepted-invalid packet would be caught)", () => {
  const header = (qd: number, an: number) => [0, 0, 0x84, 0, 0, qd, 0, an, 0, 0, 0, 0];
  const aRecord = (rdlength: number, data: number[]) => [5, 110, 105, 120, 111, 115, 5, 108, 111, 99, 97, 108, 0, 0, 1, 0, 1, 0, 0, 0, 120, 0, rdlength, ...data];
  expect(referenceProblem(Uint8Array.from([...header(0, 1), ...aRecord(4, [169, 254, 47, 1])]))).toBeUndefined();
  // dns-packet's bug (DESIGN.md): a truncated A record decoded as 10.0.undefined.undefined.
  expect(referenceProblem(Uint8Array.from([...header(0, 1), ...aRecord(2, [10, 0])]))).toBe("A record is not 4 bytes");
  expect(referenceProblem(Uint8Array.from([...header(0, 1), ...aRecord(4, [169, 254, 47, 1]), 0]))).toBe("trailing bytes");
  expect(referenceProblem(Uint8Array.from([...header(1, 0), 0xc0, 12, 0, 1, 0, 1]))).toBe("question: pointer not backward into the message body");
  expect(referenceProblem(Uint8Array.from([...header(1, 0), 0x40, 0, 1, 0, 1]))).toBe("question: reserved label type");
  expect(referenceProblem(Uint8Array.from(header(2, 0)))).toBe("question: name runs past the end");
});

test("the answer-rule oracle tells unicast addresses from the rest (for plugins/mdns's answer filter)", () => {
  const verdicts = ["fe80::47", "ff::47", "::ffff:ffff:7f00:1", "2001:db8::1", "ff02::fb", "::ffff:7f00:1", "::1", "::"].map((a) => [a, unusable(a, 6) ?? "ok"]);
  expect(verdicts).toEqual([
    ["fe80::47", "ok"],
    ["ff::47", "ok"],
    ["::ffff:ffff:7f00:1", "ok"],
    ["2001:db8::1", "ok"],
    ["ff02::fb", "a multicast address"],
    ["::ffff:7f00:1", "an IPv4-mapped address"],
    ["::1", "the unspecified or loopback address"],
    ["::", "the unspecified or loopback address"],
  ]);
  expect(["169.254.47.1", "169.254.255.255", "127.0.0.1", "224.0.0.251", "0.0.0.0", "10.1.2.3"].map((a) => unusable(a, 4) ?? "ok")).toEqual([
    "ok", "the broadcast address", "not a unicast address", "not a unicast address", "not a unicast address", "an IPv4 address off the link's subnets",
  ]);
});


test(`20,000 mutated mDNS packets: no crash, hang or accepted-invalid packet (seed ${SEED})`, () => {
  const report = fuzzMdns(20_000, rng(SEED), 60_000);
  expect(report.findings).toEqual([]);
  expect(report.inputs).toBe(20_000);
  // Both outcomes exercised, or the mutations are too tame or too wild.
  expect(report.accepted).toBeGreaterThan(1_000);
  expect(report.inputs - report.accepted).toBeGreaterThan(1_000);
});

it(`5,000 mutated key lines: no crash, hang or accepted-invalid line; ssh-keygen agrees with every accepted key (seed ${SEED})`, () => {
  const report = fuzzKeys(5_000, rng(SEED), 60_000);
  expect(report.findings).toEqual([]);
  expect(report.inputs).toBe(5_000);
  expect(report.accepted).toBeGreaterThan(200);
});
