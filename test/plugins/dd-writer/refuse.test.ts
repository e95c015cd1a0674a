/**
 * Refusals: each exits 2 and leaves the target as it was (sha256 before and
 * after, by sha256sum). Real loop devices, mounts, swap and partitions.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, linkSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { writeImage, type WriteOptions } from "../../../plugins/dd-writer/write-image.ts";
import { cmp, randomBytes, Scratch, sh, sha256Of, testFlk, writeFile } from "./helpers.ts";
import { writerHooks } from "../../../plugins/dd-writer/hooks.ts";

const it = systemTest(["losetup", "mkfs.ext4", "mount", "mkswap", "swapon", "zstd", "sha256sum", "cmp"]);
let s: Scratch;
beforeEach(() => (s = new Scratch()));
afterEach(() => s.cleanup());

/**
 * Expect a refusal with `code` whose message matches `message`, and `device`
 * unchanged (by sha256sum; for a device whose mounted file system itself
 * changes it, `notImage` checks instead that the image did not land on it).
 */
async function refuses(options: Partial<WriteOptions> & { device: string }, code: string, message: RegExp, flk = testFlk(), notImage = false): Promise<void> {
  sh(["sync"]);
  const watched = !notImage && isData(options.device) ? sha256Of(options.device) : undefined;
  const image = options.image ?? s.path("img.iso");
  const run = writeImage(flk, { image: s.path("img.iso"), verify: true, force: false, ...options });
  await expect(run).rejects.toMatchObject({ code, exitCode: 2, message: expect.stringMatching(message) });
  if (watched) expect(sha256Of(options.device)).toBe(watched);
  if (notImage && existsSync(image)) expect(cmp(image, options.device, statSync(image).size)).not.toBe(0);
}

function isData(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() || st.isBlockDevice();
  } catch {
    return false;
  }
}

beforeEach(() => void writeFile(s.path("img.iso"), randomBytes(300000)));

it("refuses a target that holds a mounted filesystem, even with --force", async () => {
  const { device } = s.loop(8 << 20);
  const at = s.mountExt4(device);
  await refuses({ device, force: true }, "E_TARGET_REFUSED", new RegExp(`in use: ${device} is mounted on ${at}`), testFlk({ yes: true }), true);
});

it("refuses a disk that is active swap", async () => {
  const { device } = s.loop(8 << 20);
  s.swapOn(device);
  await refuses({ device, force: true }, "E_TARGET_REFUSED", new RegExp(`${device} is active swap`), testFlk({ yes: true }));
});

it("refuses the disk the image file lives on (by device number)", async () => {
  const { device } = s.loop(8 << 20);
  const at = s.mountExt4(device);
  const image = writeFile(join(at, "nixos.iso"), randomBytes(100000));
  // ext4's lazy inode-table init keeps writing to a fresh mount, so check that the image did not land instead of hashing.
  await refuses({ device, image }, "E_TARGET_REFUSED", /the image file itself lives on this disk/, testFlk(), true);
});

it("refuses a disk that backs another loop device", async () => {
  const { device } = s.loop(8 << 20);
  const upper = sh(["losetup", "-f", "--show", device]);
  s.defer(() => void Bun.spawnSync(["losetup", "-d", upper]));
  await refuses({ device }, "E_TARGET_REFUSED", new RegExp(`${upper} is a loop device backed by ${device}`));
});

it("refuses a regular file that backs an attached loop device (by inode, also through a hard link), even with --force, and leaves it whole", async () => {
  const backing = writeFile(s.path("backing.img"), randomBytes(4 << 20, false));
  const { device } = s.loop(0, { backing });
  linkSync(backing, s.path("alias.img"));
  const before = sha256Of(backing);
  for (const target of [backing, s.path("alias.img")])
    for (const force of [false, true])
      await refuses({ device: target, force }, "E_TARGET_REFUSED", new RegExp(`in use: it is the backing file of ${device}\\. Detach it first: losetup -d ${device}\\. Nothing was written\\.`), testFlk({ yes: true }));
  expect(statSync(backing).size).toBe(4 << 20);
  expect(sha256Of(backing)).toBe(before);
});

it("a bare --sha256 (no value) is a usage error, not a write without a check", async () => {
  const { device } = s.loop(1 << 20);
  await refuses({ device, sha256: "" }, "E_USAGE", /^--sha256 needs a value: 64 hex digits or a sha256sum file/);
  await refuses({ device, sha256: "  " }, "E_USAGE", /^--sha256 needs a value/);
});

it("a --sha256 that took the DEVICE as its value is refused without reading the disk", async () => {
  const { device } = s.loop(1 << 20);
  await refuses({ device, sha256: device }, "E_SHA256_ARG", /a block device, not a `sha256sum` file \(did --sha256 take the DEVICE argument/);
});

it("refuses a character device, a directory and the image itself", async () => {
  await refuses({ device: "/dev/null" }, "E_TARGET_KIND", /character device, not a disk/);
  await refuses({ device: s.dir }, "E_TARGET_KIND", /is a directory/);
  await refuses({ device: s.path("img.iso") }, "E_TARGET_IS_IMAGE", /is the image file itself/);
});

it("refuses a device path that does not exist and creates nothing under /dev", async () => {
  const missing = `/dev/flk-no-such-disk-${process.pid}`;
  await refuses({ device: missing }, "E_TARGET_MISSING", /does not exist: is the stick plugged in/);
  expect(existsSync(missing)).toBe(false);
  symlinkSync(missing, s.path("dangling"));
  await refuses({ device: s.path("dangling") }, "E_TARGET_MISSING", /dangling symlink/);
  expect(existsSync(missing)).toBe(false);
});

it("refuses a read-only device (losetup -r)", async () => {
  const { device } = s.loop(8 << 20, { readOnly: true });
  await refuses({ device }, "E_TARGET_REFUSED", /read-only/);
});

it("refuses an image larger than the device, also a compressed one whose header records its size", async () => {
  const { device } = s.loop(1 << 20);
  writeFile(s.path("big.iso"), randomBytes((1 << 20) + 1));
  await refuses({ device, image: s.path("big.iso") }, "E_TOO_SMALL", /is larger than .* \(1\.0 MiB, 1048576 bytes\)/);
  sh(["zstd", "-q", s.path("big.iso")]);
  await refuses({ device, image: s.path("big.iso.zst") }, "E_TOO_SMALL", /is larger than/);
});

it("a streamed .zst of unknown size that outgrows the device stops at the device's end with exit 1", async () => {
  const { device } = s.loop(1 << 20);
  writeFile(s.path("big.iso"), randomBytes(3 << 20));
  sh(["bash", "-c", `zstd -q -c < ${s.path("big.iso")} > ${s.path("big.iso.zst")}`]);
  const run = writeImage(testFlk(), { image: s.path("big.iso.zst"), device, verify: true, force: false });
  await expect(run).rejects.toMatchObject({ code: "E_NO_SPACE", exitCode: 1, message: expect.stringMatching(/larger than .*incomplete and not bootable/) });
});

it("refuses an image whose sha256 does not match --sha256, and writes one that matches (hex or sha256sum file)", async () => {
  const { device } = s.loop(1 << 20);
  await refuses({ device, sha256: "0".repeat(64) }, "E_SHA256_MISMATCH", /sha256 mismatch .* expected 0{64}/);
  const sum = sh(["sha256sum", s.path("img.iso")]);
  await writeImage(testFlk(), { image: s.path("img.iso"), device, sha256: sum.split(" ")[0], verify: false, force: false });
  writeFile(s.path("SHA256SUMS"), new TextEncoder().encode(`${"1".repeat(64)}  other.iso\n${sum}\n`));
  await writeImage(testFlk(), { image: s.path("img.iso"), device, sha256: s.path("SHA256SUMS"), verify: true, force: false });
  expect(cmp(s.path("img.iso"), device, 300000)).toBe(0);
});

it("refuses a file that is neither ISO9660 nor hybrid unless --force", async () => {
  const { device } = s.loop(1 << 20);
  writeFile(s.path("plain.bin"), randomBytes(50000, false));
  await refuses({ device, image: s.path("plain.bin") }, "E_NOT_ISO", /does not look like an ISO9660 or hybrid disk image.*add --force/);
  await writeImage(testFlk(), { image: s.path("plain.bin"), device, verify: true, force: true });
  expect(cmp(s.path("plain.bin"), device, 50000)).toBe(0);
});

it("a mount that races the checks makes the exclusive open fail: busy, exit 2, nothing written", async () => {
  const { device } = s.loop(8 << 20);
  sh(["mkfs.ext4", "-q", device]);
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async () => {
    sh(["mkdir", "-p", s.path("race")]);
    sh(["mount", device, s.path("race")]);
    s.defer(() => void Bun.spawnSync(["umount", "-l", s.path("race")]));
  });
  await refuses({ device }, "E_BUSY", /is busy: the kernel reports it in use \(held by something flk's checks cannot see.*Nothing was written/, flk, true);
});

it("without DEVICE and without a terminal, lists the candidates and picks none", async () => {
  const { device } = s.loop(1 << 20);
  const run = writeImage(testFlk(), { image: s.path("img.iso"), verify: true, force: false, interactive: false });
  await expect(run).rejects.toMatchObject({ code: "E_NO_DEVICE", exitCode: 2, message: expect.stringMatching(new RegExp(`never picks a disk by itself[^]*${device} .* writable`)) });
});

it("without IMAGE, refuses when result/iso holds no image or several", async () => {
  const { device } = s.loop(1 << 20);
  sh(["mkdir", "-p", s.path("site/result/iso")]);
  await refuses({ device, image: undefined }, "E_IMAGE_NONE", /none found at result\/iso/, testFlk({ cwd: s.path("site") }));
  writeFile(s.path("site/result/iso/a.iso"), randomBytes(1000));
  writeFile(s.path("site/result/iso/b.iso.zst"), randomBytes(1000));
  await refuses({ device, image: undefined }, "E_IMAGE_MANY", /2 found .*result\/iso\/a\.iso, result\/iso\/b\.iso\.zst/, testFlk({ cwd: s.path("site") }));
});
