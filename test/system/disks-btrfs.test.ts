/**
 * A filesystem spanning disks: btrfs raid1 over two loop devices, only the
 * first mounted. mountinfo names only that one, yet the kernel holds both
 * (/sys/fs/btrfs/<uuid>/devices/ lists them while it is mounted), so the
 * one judge (core/disks.ts) refuses the second too: `flk devices` says why,
 * `flk write` and `flk disk` refuse with exit 2 and its sha256 is unchanged.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { randomBytes, Scratch, sh, sha256Of, writeFile } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "mkfs.btrfs", "mount", "umount", "sha256sum", "lsblk"]);
let s: Scratch;
beforeEach(() => (s = new Scratch()));
afterEach(() => s.cleanup());

it("the unmounted device of a mounted btrfs raid1 is in use: flk devices says so, flk write and flk disk refuse it (exit 2), sha256 unchanged", async () => {
  const a = s.loop(300 << 20).device;
  const b = s.loop(300 << 20).device;
  sh(["mkfs.btrfs", "-q", "-f", "-d", "raid1", "-m", "raid1", a, b]);
  const at = s.path("mnt");
  sh(["mkdir", at]);
  sh(["mount", a, at]);
  s.defer(() => void Bun.spawnSync(["umount", at]));
  const uuid = sh(["blkid", "-c", "/dev/null", "-o", "value", "-s", "UUID", b]);
  const before = sha256Of(b);
  const listed = await flk(["devices", "--json"]);
  const row = (JSON.parse(listed.stdout) as Array<{ path: string; verdict: string; reason: string }>).find((d) => d.path === b)!;
  expect(row.verdict).toBe("refused");
  expect(row.reason).toContain(`${b} is a device of the mounted btrfs filesystem ${uuid} (with ${a})`);
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  const write = await flk(["write", image, b, "--yes"]);
  expect(write.code).toBe(2);
  expect(write.stderr).toContain(`is a device of the mounted btrfs filesystem ${uuid}`);
  const disk = await flk(["disk", b, "--boot", "bios", "--yes"]);
  expect(disk.code).toBe(2);
  expect(disk.stderr).toContain(`refusing to partition ${b}: in use: ${b} is a device of the mounted btrfs filesystem ${uuid}`);
  expect(sha256Of(b)).toBe(before);
});
