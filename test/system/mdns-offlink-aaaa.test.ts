/**
 * A spoofed mDNS answer naming an off-link IPv6 address (2001:db8::66, a
 * prefix the querier's link does not have) is not believed: `flk resolve`
 * rejects it with the reason, and `flk ssh NixOS` is not sent there but
 * reaches the installer on fe80::47 (ipv6-lla), where a real sshd answers.
 * An AAAA inside a prefix the link does have is believed. The responder is
 * hand-made (test/plugins/mdns/aaaa-responder.ts), in a network namespace
 * across a veth pair from dist/flk.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Link, type Namespace } from "../helpers/netns.ts";
import { startDaemon } from "../helpers/daemon.ts";
import { startSshd } from "../helpers/sshd.ts";
import { FLK } from "../helpers/binary.ts";
import { keygen } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);
const RESPONDER = join(import.meta.dir, "..", "plugins", "mdns", "aaaa-responder.ts");
const env = { NO_COLOR: "1" };

let link: Link | undefined;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "flk-offlink-aaaa-"));
  link = await createLink();
  await linkLocal(link.a);
  await linkLocal(link.b);
}, 30_000);
afterAll(async () => {
  await link?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function withResponder<T>(ns: Namespace, addresses: string[], fn: (sent: () => string) => Promise<T>): Promise<T> {
  const child = ns.spawn([process.execPath, RESPONDER, ns.iface, ...addresses]);
  const daemon = await startDaemon(child, { name: `aaaa responder in ${ns.name}`, ready: "ready", timeoutMs: 10_000 });
  try {
    return await fn(daemon.log);
  } finally {
    await daemon.stop();
  }
}

it("flk resolve rejects an AAAA outside the link's prefixes (2001:db8::66), naming why", async () => {
  await withResponder(link!.a, ["2001:db8::66"], async (sent) => {
    const r = await link!.b.exec([FLK, "--verbose", "--json", "resolve", "NixOS.local", "-6", "--timeout", "1000"], { env });
    expect(sent()).toContain("sent 2001:db8::66");
    expect(r.stdout).not.toContain("2001:db8::66\",");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`2001:db8::66 is neither link-local nor inside ${link!.b.iface}'s IPv6 prefixes (none)`);
  });
}, 30_000);

it("flk resolve believes an AAAA inside a prefix of the receiving link, and a link-local one scoped to it", async () => {
  await link!.b.exec(["ip", "-6", "addr", "add", "2001:db8:47::2/64", "dev", link!.b.iface, "nodad"]);
  try {
    await withResponder(link!.a, ["2001:db8:47::66", "fe80::47"], async () => {
      const r = await link!.b.exec([FLK, "--json", "resolve", "NixOS.local", "-6", "--timeout", "1000"], { env });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).addresses).toEqual([
        { address: "2001:db8:47::66", family: 6, source: "mdns" },
        { address: "fe80::47", scope: link!.b.iface, family: 6, source: "mdns" },
      ]);
    });
  } finally {
    await link!.b.exec(["ip", "-6", "addr", "del", "2001:db8:47::2/64", "dev", link!.b.iface]);
  }
}, 30_000);

it("flk ssh NixOS is not sent to the spoofed 2001:db8::66: it logs in on fe80::47, where the installer answers", async () => {
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(site, "hosts/NixOS.nix"), "{ }\n");
  // The host key is not what this test is about: pinning off, ssh told to accept (and forget) it.
  writeFileSync(join(site, "flk.toml"), 'plugins = ["mdns", "ipv6-lla", "ssh-keys"]\n[ssh-keys]\npinHostKey = false\n');
  const user = keygen(dir, "operator", "ed25519");
  const hostKey = keygen(dir, "hostkey", "ed25519");
  const sshd = await startSshd(link!.a, { hostKey, authorizedKeys: readFileSync(`${user}.pub`, "utf8"), address: "fe80::47" });
  try {
    await withResponder(link!.a, ["2001:db8::66"], async (sent) => {
      const r = await link!.b.exec(
        [FLK, "--site", site, "--verbose", "ssh", "NixOS", "--user", "root", "--timeout", "1000", "--",
          "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-i", user, "echo", "logged-in"],
        { env: { ...env, HOME: dir } },
      );
      expect(sent()).toContain("sent 2001:db8::66");
      expect(r.stderr).not.toContain("root@2001:db8::66");
      expect(r.stderr).toContain(`root@fe80::47%${link!.b.iface}`);
      expect(r.stdout.trim()).toBe("logged-in");
      expect(r.code).toBe(0);
    });
  } finally {
    await sshd.stop();
  }
}, 60_000);
