/**
 * `flk install HOST --target …` to a live installer whose root has no flake
 * at `[installer] liveFlake`: dist/flk, run as a user types it, against a
 * real sshd in a network namespace (test/helpers/sshd.ts, as
 * installer-remote.test.ts uses it). The refusal names the stick and the
 * setting — "is the stick built by `flk iso`? or set `[installer]
 * liveFlake`" — not `--site`, which is about this machine's site; it exits 2
 * and changes nothing: the site, the labelled disk and the mount table are
 * as they were.
 */
import { afterAll, expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK } from "../helpers/binary.ts";
import { Cleanups } from "../helpers/cleanups.ts";
import { attachLoop } from "../helpers/live-installer.ts";
import { createLink, linkLocal } from "../helpers/netns.ts";
import { snapshot } from "../helpers/refusal.ts";
import { systemTest } from "../helpers/require.ts";
import { must, sh } from "../helpers/sh.ts";
import { startSshd } from "../helpers/sshd.ts";

const test = systemTest(["ip", "sshd", "ssh", "ssh-keygen", "losetup", "mkfs.ext4", "blkid", "findmnt"]);
const dir = mkdtempSync(join(tmpdir(), "flk-remote-live-flake-"));
chmodSync(dir, 0o755);
const cleanups = new Cleanups();
afterAll(async () => {
  await cleanups.run();
  rmSync(dir, { recursive: true, force: true });
});

test("no flake at liveFlake over --target: 'is the stick built by flk iso? or set [installer] liveFlake' (exit 2, nothing changed)", async () => {
  // The live side: a filesystem labelled as flk.toml says (so the preflight gets as far as the flake), sshd with a pinned host key.
  const label = `flklf${process.pid % 100000}`;
  const disk = await attachLoop(join(dir, "root.img"), 64 << 20, cleanups);
  await must(["mkfs.ext4", "-q", "-L", label, disk]);
  const [hostKey, clientKey] = [join(dir, "host_key"), join(dir, "client_key")];
  for (const key of [hostKey, clientKey]) await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "flk-test", "-f", key]);
  const link = await createLink();
  cleanups.add("network namespaces", () => link.cleanup());
  await linkLocal(link.b);
  const sshd = await startSshd(link.a, { hostKey, authorizedKeys: readFileSync(`${clientKey}.pub`, "utf8") });
  cleanups.add("sshd", () => sshd.stop());

  // The operator's site: the host, its pinned live host key (as flk iso records it), and a liveFlake with no flake in it.
  const liveRoot = join(dir, "live-root");
  mkdirSync(join(liveRoot, "iso", "devos"), { recursive: true });
  const liveFlake = join(liveRoot, "iso", "devos");
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  mkdirSync(join(site, "secrets", "hosts", "NixOS"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { nixosConfigurations.NixOS = { }; }; }\n");
  writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
  const [type, base64] = readFileSync(`${hostKey}.pub`, "utf8").split(" ");
  writeFileSync(join(site, "secrets", "hosts", "NixOS", "known_hosts"), `flk-live-nixos ${type} ${base64} flk live installer NixOS (test)\n`);
  writeFileSync(join(site, "flk.toml"), `[installer]\nliveFlake = "${liveFlake}"\nlabels = { root = "${label}", boot = "${label}b", swap = "${label}s" }\n`);

  const before = { site: snapshot(site), live: snapshot(liveRoot), disk: await must(["sha256sum", disk]), mounts: (await must(["findmnt", "-rn", "-o", "TARGET,SOURCE"])).split("\n").filter((l) => l.includes(disk)) };
  const target = `root@${sshd.address}%${link.b.iface}`;
  const ran = await sh(["ip", "netns", "exec", link.b.name, FLK, "install", "NixOS", "--target", target, "-i", clientKey, "--dry-run"], { cwd: site, env: { ...process.env, NO_COLOR: "1" } });

  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain(`there is no flake.nix in ${liveFlake} on ${target}.`);
  expect(ran.stderr).toContain("Is the stick built by `flk iso`? It carries the site's copy there.");
  expect(ran.stderr).toContain("Or set `[installer] liveFlake` in flk.toml to where the copy is.");
  expect(ran.stderr).not.toContain("--site");
  // It really got there over ssh, with the pinned key: sshd let the client in.
  expect(sshd.log()).toContain("Accepted publickey for root");
  expect(snapshot(site)).toEqual(before.site);
  expect(snapshot(liveRoot)).toEqual(before.live);
  expect(await must(["sha256sum", disk])).toBe(before.disk);
  expect((await must(["findmnt", "-rn", "-o", "TARGET,SOURCE"])).split("\n").filter((l) => l.includes(disk))).toEqual(before.mounts);
}, 60_000);
