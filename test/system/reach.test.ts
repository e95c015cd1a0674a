/**
 * core/reach through dist/flk, with real parts: two network namespaces, a
 * real sshd answering only on fe80::47, the built-in locators (mdns and
 * ipv6-lla) racing. A host name mDNS refuses to ask for must not stop
 * ipv6-lla from finding the installer.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK } from "../helpers/binary.ts";
import { createLink, linkLocal, type Link } from "../helpers/netns.ts";
import { systemTest } from "../helpers/require.ts";
import { startSshd } from "../helpers/sshd.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);
let dir: string;
let link: Link | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "flk-reach-sys-"));
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  // A host name with a dot: mDNS refuses to ask for `my.box` (not under .local).
  writeFileSync(join(site, "hosts", "my.box.nix"), "{ }\n");
  writeFileSync(join(site, "flk.toml"), 'plugins = ["mdns", "ipv6-lla", "ssh-keys"]\n\n[ssh-keys]\npinHostKey = false\n');
  for (const key of ["host", "user"]) Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, key)]);
  link = await createLink();
  await Promise.all([linkLocal(link.a), linkLocal(link.b)]);
}, 60_000);
afterAll(async () => {
  await link?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

it("a host name mDNS refuses to ask for does not stop ipv6-lla: flk ssh still finds the installer on fe80::47", async () => {
  const sshd = await startSshd(link!.a, { hostKey: join(dir, "host"), authorizedKeys: readFileSync(join(dir, "user.pub"), "utf8"), address: "fe80::47" });
  try {
    const opts = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-i", join(dir, "user")];
    const ran = await link!.b.exec([FLK, "--site", join(dir, "site"), "--verbose", "ssh", "my.box", "--user", "root", "--", ...opts, "echo", "reached"], { env: { NO_COLOR: "1" } });
    expect(ran.stdout.trim()).toBe("reached");
    expect(ran.code).toBe(0);
    expect(ran.stderr).toContain(`root@fe80::47%${link!.b.iface} (found by static)`);
  } finally {
    await sshd.stop();
  }
});
