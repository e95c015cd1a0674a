/**
 * Loop devices are judged by what they stand on (DESIGN.md "Trust rules" →
 * Disks; issue 16 item 2), through dist/flk against real loop devices:
 * stacked on a mounted loop device, sharing a mounted one's backing file,
 * stacked on a free one (--force), and a disk mounted only in another mount
 * namespace. Every refusal checks the disk's sha256 afterwards.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { mkdirSync } from "node:fs";
import { basename } from "node:path";
import { flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, randomBytes, Scratch, sh, sha256Of, writeFile } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "mkfs.ext4", "mount", "unshare", "lsblk", "sha256sum"]);
let s: Scratch;
let image: string;
beforeEach(() => {
  s = new Scratch();
  image = writeFile(s.path("nixos.iso"), randomBytes(1 << 20));
});
afterEach(() => s.cleanup());

/**
 * A loop device with an ext4 filesystem mounted on it, and the sha256 of its bytes. Mounted read-only:
 * a read-write ext4 keeps writing after the mount (lazy inode-table init, journal), which would change
 * the sha256 that shows flk wrote nothing; for the judge a read-only mount is in use all the same.
 */
function mountedLoop(): { device: string; backing: string; at: string; before: string } {
  const { device, backing } = s.loop(16 << 20);
  sh(["mkfs.ext4", "-q", "-F", device]);
  const at = s.path(`mnt-${basename(device)}`);
  mkdirSync(at);
  sh(["mount", "-o", "ro", device, at]);
  s.defer(() => void Bun.spawnSync(["umount", "-l", at]));
  return { device, backing, at, before: sha256Of(backing) };
}

interface DevicesRow {
  path: string;
  verdict: string;
  reason: string | null;
}

async function verdictOf(device: string): Promise<DevicesRow> {
  const r = await flk(["devices", "--json"]);
  expect(r.code).toBe(0);
  const row = (JSON.parse(r.stdout) as DevicesRow[]).find((d) => d.path === device);
  if (!row) throw new Error(`flk devices does not list ${device}`);
  return row;
}

it("a loop device stacked on a mounted loop device is refused (exit 2, also with --force), and the mounted disk is unchanged", async () => {
  const lower = mountedLoop();
  const { device: upper } = s.loop(0, { backing: lower.device });
  for (const extra of [[], ["--force", "--yes"]]) {
    const r = await flk(["write", image, upper, "--no-verify", ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to write to ${upper}: ${upper} is backed by the block device ${lower.device}, which is in use: ${lower.device} is mounted on ${lower.at}. Nothing was written.`);
  }
  expect(sha256Of(lower.backing)).toBe(lower.before);
  expect(await verdictOf(upper)).toMatchObject({ verdict: "refused", reason: expect.stringContaining(`is backed by the block device ${lower.device}, which is in use`) });
});

it("a loop device backed by the same file as a mounted loop device is refused (exit 2, also with --force), and the file is unchanged", async () => {
  const mounted = mountedLoop();
  const { device: twin } = s.loop(0, { backing: mounted.backing });
  for (const extra of [[], ["--force", "--yes"]]) {
    const r = await flk(["write", image, twin, "--no-verify", ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to write to ${twin}: ${twin}'s backing file ${mounted.backing} is also the backing file of ${mounted.device}`);
  }
  expect(sha256Of(mounted.backing)).toBe(mounted.before);
  expect((await verdictOf(twin)).verdict).toBe("refused");
  // The same file reached through a hard link is the same inode: still refused.
  sh(["ln", mounted.backing, s.path("link.img")]);
  const { device: linked } = s.loop(0, { backing: s.path("link.img") });
  const r = await flk(["write", image, linked, "--no-verify", "--force", "--yes"]);
  expect(r.code).toBe(2);
  expect(sha256Of(mounted.backing)).toBe(mounted.before);
});

it("a loop device stacked on a free loop device needs --force (it overwrites that device), then writes it", async () => {
  const { device: lower, backing } = s.loop(4 << 20);
  const { device: upper } = s.loop(0, { backing: lower });
  const before = sha256Of(backing);
  const refused = await flk(["write", image, upper]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain(`${upper} is backed by the block device ${lower}: writing it overwrites ${lower}`);
  expect(sha256Of(backing)).toBe(before);
  expect(await verdictOf(upper)).toMatchObject({ verdict: "needs-force" });
  const forced = await flk(["write", image, upper, "--force", "--yes"]);
  expect(forced.code).toBe(0);
  expect(cmp(image, lower, 1 << 20)).toBe(0);
});

it("a loop device mounted only in another mount namespace is refused, and its bytes are unchanged", async () => {
  const { device, backing } = s.loop(16 << 20);
  sh(["mkfs.ext4", "-q", "-F", device]);
  const before = sha256Of(backing);
  const at = s.path("elsewhere");
  sh(["mkdir", at]);
  // A private mount namespace (unshare -m makes its mounts private), holding the mount while it sleeps; read-only, so mounting writes nothing and the sha256 can show that flk wrote nothing either.
  const holder = Bun.spawn(["unshare", "-m", "sh", "-c", `mount -o ro ${device} ${at} && echo mounted && exec sleep 60`], { stdout: "pipe", stderr: "pipe" });
  s.defer(() => holder.kill("SIGKILL"));
  const reader = holder.stdout.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain("mounted");
  expect(Bun.spawnSync(["findmnt", at]).exitCode).toBe(1); // not visible in this namespace
  const r = await flk(["write", image, device, "--no-verify", "--force", "--yes"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`in use: ${device} is mounted on ${at}`);
  holder.kill("SIGKILL");
  await holder.exited;
  expect(sha256Of(backing)).toBe(before);
});

it("a disk whose filesystem still holds a loop device's backing file is refused after `umount -l` hid the mount (exit 2, also with --force), and the disk is unchanged", async () => {
  // The filesystem on `disk` is lazily unmounted: it is in no mountinfo any more and the backing file's
  // path resolves nowhere, but the loop device keeps it alive. Writing `disk` would destroy it under that
  // loop device; only the kernel's record (LOOP_GET_STATUS64: the backing file's st_dev) still tells.
  const { device: disk, backing } = s.loop(16 << 20);
  sh(["mkfs.ext4", "-q", "-F", disk]);
  const at = s.path(`mnt-${basename(disk)}`);
  mkdirSync(at);
  sh(["mount", disk, at]);
  s.defer(() => void Bun.spawnSync(["umount", "-l", at]));
  sh(["dd", "if=/dev/zero", `of=${at}/inner.img`, "bs=1M", "count=2", "status=none"]);
  sh(["mount", "-o", "remount,ro", at]);
  const { device: inner } = s.loop(0, { backing: `${at}/inner.img` });
  sh(["umount", "-l", at]);
  // Hidden: no mountinfo of any process names it any more.
  expect(Bun.spawnSync(["sh", "-c", `grep -h ' ${sh(["sh", "-c", `printf %d:%d 0x$(stat -c %t ${disk}) 0x$(stat -c %T ${disk})`])} ' /proc/[0-9]*/mountinfo`]).stdout.toString()).toBe("");
  const before = sha256Of(backing);
  for (const extra of [[], ["--force", "--yes"]]) {
    const r = await flk(["write", image, disk, "--no-verify", ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${inner} is a loop device backed by a file on ${disk}'s filesystem (losetup -d ${inner})`);
  }
  expect(sha256Of(backing)).toBe(before);
  expect(await verdictOf(disk)).toMatchObject({ verdict: "refused", reason: expect.stringContaining(`backed by a file on ${disk}'s filesystem`) });
});
