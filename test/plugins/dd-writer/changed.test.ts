/**
 * Time of check against time of use: the target is judged, then (after a
 * confirmation that may take minutes) opened by path. Whatever took its
 * place meanwhile — another disk under the same node, a symlink to a disk, a
 * loop device attached to the file — must not be written. The swap happens
 * for real in a beforeWrite tap (it runs after the checks, before the open).
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { rmSync, statSync, symlinkSync } from "node:fs";
import { systemTest } from "../../helpers/require.ts";
import { systemView } from "../../../core/index.ts";
import { openTarget } from "../../../plugins/dd-writer/open.ts";
import { resolveTarget } from "../../../plugins/dd-writer/target.ts";
import { writeImage } from "../../../plugins/dd-writer/write-image.ts";
import { flipByte, randomBytes, Scratch, sh, sha256Of, testFlk, writeFile } from "./helpers.ts";
import { writerHooks } from "../../../plugins/dd-writer/hooks.ts";

const it = systemTest(["losetup", "lsblk", "mknod", "sha256sum"]);
let s: Scratch;
let image: string;
beforeEach(() => {
  s = new Scratch();
  image = writeFile(s.path("img.iso"), randomBytes(300000));
});
afterEach(() => s.cleanup());

/** A loop device filled with random bytes, so any write to it shows in its sha256. */
function filledLoop(): { device: string; majmin: string } {
  const backing = writeFile(s.path(`fill-${Math.random().toString(36).slice(2)}.img`), randomBytes(1 << 20, false));
  const { device } = s.loop(0, { backing });
  return { device, majmin: sh(["lsblk", "-dno", "MAJ:MIN", device]).trim() };
}

/** Run writeImage on `target` with `swap` done between the checks and the open; expect exit 2 with `code`. */
async function refusedAfterSwap(target: string, swap: () => void, code: string, message: RegExp): Promise<void> {
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async () => swap());
  const run = writeImage(flk, { image, device: target, verify: true, force: false });
  await expect(run).rejects.toMatchObject({ code, exitCode: 2, message: expect.stringMatching(message) });
}

it("a disk swapped for another under the same device node between the checks and the write: exit 2, neither disk written", async () => {
  const a = filledLoop();
  const b = filledLoop();
  const [before_a, before_b] = [sha256Of(a.device), sha256Of(b.device)];
  const node = s.path("stick");
  sh(["mknod", node, "b", ...a.majmin.split(":")]);
  await refusedAfterSwap(node, () => {
    rmSync(node);
    sh(["mknod", node, "b", ...b.majmin.split(":")]);
  }, "E_TARGET_CHANGED", new RegExp(`the device changed between the checks and the write \\(judged ${a.majmin} \\(${a.device}\\), opened ${b.majmin} \\(${b.device}\\)\\): nothing was written`));
  expect(sha256Of(b.device)).toBe(before_b);
  expect(sha256Of(a.device)).toBe(before_a);
});

it("the open step refuses a block target whose judged device number is not the one its path opens", async () => {
  const a = filledLoop();
  const b = filledLoop();
  const before = sha256Of(b.device);
  const st = statSync(image, { bigint: true });
  const judged = await resolveTarget(a.device, { dev: st.dev, ino: st.ino }, systemView());
  expect(judged.kind).toBe("block");
  let thrown: unknown;
  try {
    openTarget({ ...judged, path: b.device });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: "E_TARGET_CHANGED", exitCode: 2, message: expect.stringContaining(`judged ${a.majmin} (${a.device}), opened ${b.majmin} (${b.device})`) });
  expect(sha256Of(b.device)).toBe(before);
});

it("an image file target replaced by a symlink to a disk after the check is not written through", async () => {
  const b = filledLoop();
  const before = sha256Of(b.device);
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20));
  await refusedAfterSwap(file, () => {
    rmSync(file);
    symlinkSync(b.device, file);
  }, "E_TARGET_CHANGED", /the device changed between the checks and the write \(it is no longer a regular file\): nothing was written/);
  expect(sha256Of(b.device)).toBe(before);
});

it("an image file target replaced by another file after the check: exit 2, the other file keeps its bytes", async () => {
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20));
  const other = writeFile(s.path("other.img"), randomBytes(2 << 20, false));
  const before = sha256Of(other);
  await refusedAfterSwap(file, () => sh(["mv", other, file]), "E_TARGET_CHANGED", /\(it is another file now \(another inode\)\)/);
  expect(statSync(file).size).toBe(2 << 20);
  expect(sha256Of(file)).toBe(before);
});

it("a file target that did not exist and appeared as a symlink to a disk is not opened (O_EXCL)", async () => {
  const b = filledLoop();
  const before = sha256Of(b.device);
  const fresh = s.path("fresh.img");
  await refusedAfterSwap(fresh, () => symlinkSync(b.device, fresh), "E_TARGET_CHANGED", /\(something appeared at its path\): nothing was written/);
  expect(sha256Of(b.device)).toBe(before);
});

it("a file target attached to a loop device after the check is refused at the open, before it is cut", async () => {
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20));
  const before = sha256Of(file);
  let device = "";
  await refusedAfterSwap(file, () => void (device = s.loop(0, { backing: file }).device), "E_TARGET_REFUSED", /in use: it is the backing file of \/dev\/loop\d+\. Detach it first/);
  expect(device).toMatch(/^\/dev\/loop\d+$/);
  expect(statSync(file).size).toBe(1 << 20);
  expect(sha256Of(file)).toBe(before);
});

it("a loop device re-pointed to another file between the checks and the open (same number, new diskseq): exit 2, neither file written", async () => {
  const first = writeFile(s.path("first.img"), randomBytes(1 << 20, false));
  const second = writeFile(s.path("second.img"), randomBytes(1 << 20, false));
  const [beforeFirst, beforeSecond] = [sha256Of(first), sha256Of(second)];
  // Other work on a shared machine may grab the device number between the detach and the attach: then try again with another one.
  for (let attempt = 1; ; attempt++) {
    const { device } = s.loop(0, { backing: first });
    let raced = false;
    const flk = testFlk();
    writerHooks(flk).beforeWrite.tapPromise("test", async () => {
      sh(["losetup", "-d", device]);
      if (Bun.spawnSync(["losetup", device, second]).exitCode !== 0) raced = true;
    });
    const error = await writeImage(flk, { image, device, verify: true, force: false }).catch((e) => e);
    if (raced && attempt < 3) continue;
    expect(error).toMatchObject({ code: "E_TARGET_CHANGED", exitCode: 2, message: expect.stringMatching(/with diskseq \d+, opened diskseq \d+: re-attached or another medium\): nothing was written/) });
    s.defer(() => void Bun.spawnSync(["losetup", "-d", device]));
    break;
  }
  expect(sha256Of(first)).toBe(beforeFirst);
  expect(sha256Of(second)).toBe(beforeSecond);
});

it("the open step refuses a loop device whose backing inode is not the judged one", async () => {
  const backing = writeFile(s.path("b.img"), randomBytes(1 << 20, false));
  const before = sha256Of(backing);
  const { device } = s.loop(0, { backing });
  const st = statSync(image, { bigint: true });
  const judged = await resolveTarget(device, { dev: st.dev, ino: st.ino }, systemView());
  if (judged.kind !== "block") throw new Error("expected a block target");
  let thrown: unknown;
  try {
    openTarget({ ...judged, disk: { ...judged.disk, backingInode: "0:0:1" } });
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({ code: "E_TARGET_CHANGED", exitCode: 2, message: expect.stringContaining(`judged ${device} backed by inode 0:0:1, it is backed by inode`) });
  expect(sha256Of(backing)).toBe(before);
});

it("the image path swapped for a symlink to a disk after the checks: the bytes of the opened image are written, never the disk's", async () => {
  const secret = filledLoop();
  const target = writeFile(s.path("out.img"), randomBytes(1 << 20));
  const original = sha256Of(image);
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async () => {
    rmSync(image);
    symlinkSync(secret.device, image);
  });
  const outcome = await writeImage(flk, { image, device: target, verify: true, force: false });
  expect(outcome.verified).toBe(true);
  expect(sha256Of(target)).toBe(original);
  expect(sha256Of(target)).not.toBe(sha256Of(secret.device, 300000));
});

it("an image patched in place after the --sha256 check: the write ends with exit 1 (E_SHA256_CHANGED), never 'verified'", async () => {
  const target = s.path("out.img");
  const expected = sha256Of(image);
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async () => flipByte(image, 150000));
  let after = false;
  writerHooks(flk).afterWrite.tapPromise("test", async () => void (after = true));
  const error = await writeImage(flk, { image, device: target, sha256: expected, verify: true, force: false }).catch((e) => e);
  expect(error).toMatchObject({ code: "E_SHA256_CHANGED", exitCode: 1, message: expect.stringContaining(`changed while it was written: the bytes written have sha256 ${sha256Of(image)}, not ${expected}`) });
  expect(sha256Of(target)).toBe(sha256Of(image)); // what was written is the patched file, which nobody vouched for
  expect(after).toBe(false);
});

it("a compressed image patched in place after the --sha256 check is caught too (the compressed bytes fed to zstd are hashed)", async () => {
  sh(["zstd", "-q", image]);
  const zst = `${image}.zst`;
  const expected = sha256Of(zst);
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async () => flipByte(zst, statSync(zst).size - 10));
  const run = writeImage(flk, { image: zst, device: s.path("out.img"), sha256: expected, verify: true, force: false });
  // zstd may notice the flipped byte itself (checksum): then the image is reported corrupt; either way, never verified.
  await expect(run).rejects.toMatchObject({ exitCode: 1, code: expect.stringMatching(/^E_SHA256_CHANGED$|^E_IMAGE_CORRUPT$/) });
});

it("two flk writes to the same file: the second is refused (E_BUSY, exit 2) while the first holds it, and the first verifies", async () => {
  const target = s.path("shared.img");
  const other = writeFile(s.path("other.iso"), randomBytes(400000));
  let second: unknown = "not run";
  const outcome = await writeImage(testFlk(), {
    image,
    device: target,
    verify: true,
    force: false,
    beforeVerify: async () => {
      second = await writeImage(testFlk(), { image: other, device: target, verify: true, force: false }).catch((error) => error);
    },
  });
  expect(second).toMatchObject({ code: "E_BUSY", exitCode: 2, message: expect.stringContaining("is being written by another flk write") });
  expect(outcome.verified).toBe(true);
  expect(sha256Of(target)).toBe(sha256Of(image));
});
