import { expect } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Namespace } from "../helpers/netns.ts";
import { FLK } from "../helpers/binary.ts";
import { startDaemon } from "../helpers/daemon.ts";

const it = systemTest(["ip"]);
const RESPONDER = join(import.meta.dir, "..", "plugins", "mdns", "bad-responder.ts");
const env = { NO_COLOR: "1" };

/** Start the hand-made responder in `ns` and wait for it to listen; sent() is what it printed. */
async function startResponder(ns: Namespace, good: boolean) {
  const child = ns.spawn([process.execPath, RESPONDER, "169.254.30.1", "10.99.0.1", ...(good ? ["--good"] : [])]);
  const daemon = await startDaemon(child, { name: `responder in ${ns.name}`, ready: "ready", timeoutMs: 10_000 });
  return { sent: daemon.log, stop: daemon.stop };
}

async function withLink(run: (a: Namespace, b: Namespace) => Promise<void>) {
  const link = await createLink({ ipv4A: "169.254.30.1/16", ipv4B: "169.254.30.2/16" });
  try {
    // an address outside the querier's subnet, for the off-link answer
    await link.a.exec(["ip", "addr", "add", "10.99.0.1/32", "dev", link.a.iface]);
    // link-local addresses appear once the veth has a carrier: then the link is usable
    await linkLocal(link.a);
    await linkLocal(link.b);
    await run(link.a, link.b);
  } finally {
    await link.cleanup();
  }
}

it("ignores malformed, wrong-name, non-zero rcode/opcode, off-port, off-link, loopback, TTL-0 and off-link-address answers (hand-made responder), and exits 1", async () => {
  await withLink(async (a, b) => {
    const responder = await startResponder(a, false);
    try {
      const r = await b.exec([FLK, "--verbose", "resolve", "NixOS", "-4", "--timeout", "700"], { env });
      expect(responder.sent()).toContain("sent from off-link");
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      for (const reason of ["malformed: ", 'a record for "NixOS2.local", not NixOS.local', "rcode 3 is not 0", "opcode 1 is not 0", "source port 5354 is not 5353", "10.99.0.1 is not on", "127.0.0.1: it is a loopback address", "has TTL 0", "10.9.9.9 is not on"])
        expect(r.stderr).toContain(reason);
      expect(r.stderr).toContain("packet(s) were ignored");
    } finally {
      await responder.stop();
    }
  });
}, 30_000);

it("takes only the one correct answer that follows the bad ones (hand-made responder)", async () => {
  await withLink(async (a, b) => {
    const responder = await startResponder(a, true);
    try {
      const r = await b.exec([FLK, "--json", "resolve", "NixOS", "-4", "--timeout", "2000"], { env });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ name: "NixOS.local", addresses: [{ address: "169.254.30.1", family: 4, source: "mdns" }] });
      expect(responder.sent()).toContain("sent good");
    } finally {
      await responder.stop();
    }
  });
}, 30_000);

it("refuses with exit 2 an interface that is down, and exits 1 when no interface can carry mDNS", async () => {
  await withLink(async (_a, b) => {
    const added = await b.exec(["ip", "link", "add", "flkdown0", "type", "veth", "peer", "name", "flkdown1"]); // no dummy module here
    expect(added.code).toBe(0);
    const down = await b.exec([FLK, "resolve", "NixOS", "--iface", "flkdown0"], { env });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain("cannot ask on flkdown0: it is down");
    await b.exec(["ip", "link", "set", b.iface, "down"]);
    const none = await b.exec([FLK, "resolve", "NixOS", "--timeout", "300"], { env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no interface is up, multicast-capable and has a carrier");
  });
}, 30_000);

it("stops at once on SIGINT and dies by the signal", async () => {
  await withLink(async (_a, b) => {
    const child = b.spawn([FLK, "resolve", "Nobody", "--timeout", "10000"], { env });
    await Bun.sleep(400);
    const started = performance.now();
    child.kill("SIGINT");
    await child.exited;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(child.signalCode ?? child.exitCode).toBeOneOf(["SIGINT", 130]);
  });
}, 30_000);

it("a spoofed 127.0.0.1 answer for NixOS.local no longer sends flk ssh to localhost", async () => {
  await withLink(async (a, b) => {
    const responder = await startResponder(a, false);
    const site = mkdtempSync(join(tmpdir(), "flk-spoof-site-"));
    try {
      writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
      mkdirSync(join(site, "hosts"));
      writeFileSync(join(site, "hosts/NixOS.nix"), "{ }\n");
      // mdns only: nothing else may find the host, so a believed 127.0.0.1 would be the one ssh went to.
      writeFileSync(join(site, "flk.toml"), 'plugins = ["mdns", "ssh-keys"]\n[ssh-keys]\npinHostKey = false\n');
      const r = await b.exec([FLK, "--site", site, "--verbose", "ssh", "NixOS", "--timeout", "700", "--", "-o", "BatchMode=yes", "true"], { env });
      expect(responder.sent()).toContain("sent spoofed loopback 127.0.0.1");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("could not find the live installer of NixOS");
      expect(r.stderr).not.toMatch(/nixos@127\.0\.0\.1/);
      expect(r.stderr).toContain("127.0.0.1: it is a loopback address");
    } finally {
      await responder.stop();
      rmSync(site, { recursive: true, force: true });
    }
  });
});
