/**
 * `[installer] root` is judged as the path it really is (normalised, then
 * resolved on the machine being installed) and may not be a directory of
 * the running system: through dist/flk, `flk install NixOS --dry-run` and
 * the real install (a stand-in nixos-install, test/plugins/installer/fixtures.ts)
 * refuse /etc, /home, /dev, /sys, … with exit 2 naming the setting and /mnt,
 * and nothing gets mounted; `/x/../root2` is the directory root2.
 */
import { afterEach, expect } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { flk } from "../helpers/binary.ts";
import { createMachine, sh, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["losetup", "mkfs.ext4", "blkid", "findmnt", "mount"]);
let machine: Machine | undefined;
afterEach(async () => {
  await machine?.cleanup();
  machine = undefined;
});

function configure(m: Machine, root: string): void {
  writeFileSync(join(m.site, "flk.toml"), `[installer]\nroot = ${JSON.stringify(root)}\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`, { mode: 0o644 });
}

const env = (m: Machine) => ({ PATH: `${m.bin}:${process.env.PATH}:/usr/sbin:/sbin` });
const ROOTS = ["/etc", "/var", "/home", "/root", "/tmp", "/dev", "/sys", "/proc", "/run", "/usr", "/nix", "//etc/", "/mnt/../etc", "/sys/kernel"];
/** What is mounted exactly at the directories tried (other tests on this machine mount elsewhere meanwhile). */
const mountTable = async () => (await sh(["findmnt", "-rn", "-o", "TARGET,SOURCE"])).stdout.split("\n").filter((l) => ["/etc", "/var", "/home", "/root", "/tmp", "/dev", "/sys", "/proc", "/run", "/usr", "/nix", "/sys/kernel"].includes(l.split(" ")[0]!)).sort().join("\n");

test("a directory of the running system as [installer] root is exit 2 naming the setting and /mnt; nothing is mounted; /x/../root2 is root2", async () => {
  machine = await createMachine();
  const m = machine;
  await m.disk("ext4", m.labels.root);
  const before = await mountTable();
  for (const root of ROOTS) {
    configure(m, root);
    for (const args of [["--dry-run"], ["--yes"]]) {
      const r = await flk(["install", "NixOS", ...args], { cwd: m.site, env: env(m) });
      expect([root, r.code]).toEqual([root, 2]);
      expect(r.stderr).toContain(`[installer] root '${root}'`);
      expect(r.stderr).toContain("is a directory of the running system");
      expect(r.stderr).toContain('Set [installer] root = "/mnt" in flk.toml');
      expect(r.stderr).not.toContain("umount");
    }
  }
  expect(await mountTable()).toEqual(before);
  expect(m.calls()).toEqual([]);
  // `..` is not refused as if it were /: it is the directory it names.
  mkdirSync(join(m.dir, "x"));
  configure(m, join(m.dir, "x", "..", "root2"));
  const dry = await flk(["install", "NixOS", "--dry-run", "--json"], { cwd: m.site, env: env(m) });
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout).root).toBe(join(m.dir, "root2"));
  const r = await flk(["install", "NixOS", "--yes"], { cwd: m.site, env: env(m) });
  expect(r.code).toBe(0);
  expect(m.calls()[0]!.argv).toEqual(["--flake", `${m.site}#NixOS`, "--root", join(m.dir, "root2")]);
  expect(await m.mounted()).toEqual([join(m.dir, "root2")]);
}, 120_000);
