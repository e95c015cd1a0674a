import { expect } from "bun:test";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal } from "../helpers/netns.ts";
import { startAvahi } from "../helpers/avahi.ts";
import { FLK } from "../helpers/binary.ts";
import { join } from "node:path";
import { startRecorder, type Recorded } from "../plugins/mdns/recorder.ts";

const it = systemTest(["ip", "unshare", "avahi-daemon"]);
const env = { NO_COLOR: "1" };
const PROBE = join(import.meta.dir, "..", "plugins", "mdns", "locate-probe.ts");

it("flk resolve finds an avahi-announced host from the other namespace: IPv4 link-local, fe80::47 and EUI-64; exits 1 once avahi stops", async () => {
  const link = await createLink({ macA: "52:54:00:12:34:56", ipv4A: "169.254.10.1/16", ipv4B: "169.254.10.2/16" });
  try {
    const eui64 = await linkLocal(link.a); // the kernel derives it from the MAC: the oracle
    await link.a.exec(["ip", "addr", "add", "fe80::47/64", "dev", link.a.iface]);
    await linkLocal(link.b);
    const avahi = await startAvahi(link.a, { hostName: "NixOS" });
    try {
      const json = await link.b.exec([FLK, "--json", "resolve", "NixOS", "--timeout", "3000"], { env });
      expect(json.stderr).toBe("");
      expect(json.code).toBe(0);
      const found = JSON.parse(json.stdout);
      expect(found.name).toBe("NixOS.local");
      expect(found.addresses).toEqual(
        expect.arrayContaining([
          { address: "169.254.10.1", family: 4, source: "mdns" },
          { address: "fe80::47", scope: link.b.iface, family: 6, source: "mdns" },
          { address: eui64, scope: link.b.iface, family: 6, source: "mdns" },
        ]),
      );
      expect(found.addresses).toHaveLength(3);
      expect(found.addresses[0].family).toBe(4); // IPv4 first

      const plain = await link.b.exec([FLK, "resolve", "nixos.local", "--iface", link.b.iface], { env });
      expect(plain.code).toBe(0);
      expect(plain.stdout.trim().split("\n").sort()).toEqual(["169.254.10.1", `fe80::47%${link.b.iface}`, `${eui64}%${link.b.iface}`].sort());

    } finally {
      await avahi.stop();
    }
    const started = performance.now();
    const gone = await link.b.exec([FLK, "resolve", "NixOS", "--timeout", "800"], { env });
    const elapsed = performance.now() - started;
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("no mDNS answer for NixOS.local");
    expect(gone.stderr).toContain("flk lla discover");
    expect(elapsed).toBeGreaterThanOrEqual(800);
    expect(elapsed).toBeLessThan(800 + 700); // the timeout plus process start, not more
  } finally {
    await link.cleanup();
  }
}, 30_000);

it("locators race: mDNS's IPv4 answer is preferred over one that came first; without a responder the other answer is used at once, not after mDNS's budget", async () => {
  const link = await createLink({ ipv4A: "169.254.20.1/16", ipv4B: "169.254.20.2/16" });
  try {
    await linkLocal(link.a);
    await linkLocal(link.b);
    const avahi = await startAvahi(link.a, { hostName: "NixOS" });
    try {
      const r = await link.b.exec([process.execPath, PROBE, "NixOS", "2000"]);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.endpoint).toEqual({ address: "169.254.20.1", family: 4, source: "mdns" });
      expect(out.order.sort()).toEqual(["mdns", "next-locator"]); // all start at once
      expect(out.tried[0]).toContain("mdns: NixOS.local is 169.254.20.1");
      expect(out.elapsedMs).toBeLessThan(1000); // answered, not timed out
    } finally {
      await avahi.stop();
    }
    const r = await link.b.exec([process.execPath, PROBE, "NixOS", "2000"]);
    const out = JSON.parse(r.stdout);
    expect(out.endpoint.source).toBe("static");
    // mDNS (silent) would have taken its 2000 ms: the other answer waited only the preference window.
    expect(out.elapsedMs).toBeLessThan(1000);
  } finally {
    await link.cleanup();
  }
}, 30_000);

it("finds the host over IPv6 alone on a bare link (no IPv4 on either end), returning a short grace after the AAAA answer, not at the timeout", async () => {
  const link = await createLink({ macA: "52:54:00:ab:cd:ef" });
  try {
    const eui64 = await linkLocal(link.a);
    await link.a.exec(["ip", "addr", "add", "fe80::47/64", "dev", link.a.iface]);
    await linkLocal(link.b);
    const avahi = await startAvahi(link.a, { hostName: "NixOS" });
    try {
      const started = performance.now();
      const r = await link.b.exec([FLK, "--json", "resolve", "NixOS", "--timeout", "5000"], { env });
      const elapsed = performance.now() - started;
      expect(r.code).toBe(0);
      const scope = link.b.iface;
      expect(JSON.parse(r.stdout).addresses.sort((x: any, y: any) => x.address.localeCompare(y.address))).toEqual(
        [{ address: "fe80::47", scope, family: 6, source: "mdns" }, { address: eui64, scope, family: 6, source: "mdns" }].sort((x, y) => x.address.localeCompare(y.address)),
      );
      expect(elapsed).toBeLessThan(2000); // nobody answers A here: the grace ends it, not the 5 s timeout
    } finally {
      await avahi.stop();
    }
  } finally {
    await link.cleanup();
  }
}, 30_000);

it("-4 alone asks only A questions and gets only IPv4; -6 alone asks only AAAA and gets only IPv6 (avahi answers, a recorder beside it sees the wire)", async () => {
  const link = await createLink({ macA: "52:54:00:12:34:57", ipv4A: "169.254.11.1/16", ipv4B: "169.254.11.2/16" });
  try {
    const eui64 = await linkLocal(link.a);
    await link.a.exec(["ip", "addr", "add", "fe80::47/64", "dev", link.a.iface]);
    await linkLocal(link.b);
    const avahi = await startAvahi(link.a, { hostName: "NixOS" });
    let recorder: Awaited<ReturnType<typeof startRecorder>> | undefined;
    try {
      // Listens on 224.0.0.251 and ff02::fb beside avahi, answers nothing, records the questions flk sends.
      recorder = await startRecorder(link.a, ["169.254.11.1", "--ipv6", link.a.iface, "--silent"]);
      const types = (queries: Recorded[]) => [...new Set(queries.flatMap((q) => q.questions.map((x) => x.type)))];

      const only4 = await link.b.exec([FLK, "--json", "resolve", "NixOS", "-4"], { env });
      expect(only4.stderr).toBe("");
      expect(only4.code).toBe(0);
      expect(JSON.parse(only4.stdout)).toEqual({ name: "NixOS.local", addresses: [{ address: "169.254.11.1", family: 4, source: "mdns" }] });
      await Bun.sleep(200); // let the last datagrams reach the recorder
      const asked4 = recorder.queries();
      expect(asked4.length).toBeGreaterThanOrEqual(1);
      expect(types(asked4)).toEqual([1]); // A only
      expect(asked4.every((q) => q.questions.every((x) => x.name === "NixOS.local"))).toBe(true);

      const only6 = await link.b.exec([FLK, "--json", "resolve", "NixOS", "-6"], { env });
      expect(only6.stderr).toBe("");
      expect(only6.code).toBe(0);
      const found6 = JSON.parse(only6.stdout).addresses as { address: string; family: number }[];
      expect(found6.map((a) => a.family)).toEqual([6, 6]);
      expect(found6.map((a) => a.address).sort()).toEqual(["fe80::47", eui64].sort());
      await Bun.sleep(200);
      const asked6 = recorder.queries().slice(asked4.length);
      expect(asked6.length).toBeGreaterThanOrEqual(1);
      expect(types(asked6)).toEqual([28]); // AAAA only
      expect(new Set(asked6.map((q) => q.family))).toEqual(new Set([4, 6])); // both groups carry the question, as for a plain resolve
    } finally {
      await recorder?.stop();
      await avahi.stop();
    }
  } finally {
    await link.cleanup();
  }
}, 30_000);
