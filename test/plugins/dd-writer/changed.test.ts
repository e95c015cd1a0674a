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
import { randomBytes, Scratch, sh, sha256Of, testFlk, writeFile } from "./helpers.ts";

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
  flk.hooks.beforeWrite.tapPromise("test", async () => swap());
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
  const judged = await resolveTarget(a.device, image, systemView());
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
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20, false));
  await refusedAfterSwap(file, () => {
    rmSync(file);
    symlinkSync(b.device, file);
  }, "E_TARGET_CHANGED", /the device changed between the checks and the write \(it is no longer a regular file\): nothing was written/);
  expect(sha256Of(b.device)).toBe(before);
});

it("an image file target replaced by another file after the check: exit 2, the other file keeps its bytes", async () => {
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20, false));
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
  const file = writeFile(s.path("out.img"), randomBytes(1 << 20, false));
  const before = sha256Of(file);
  let device = "";
  await refusedAfterSwap(file, () => void (device = s.loop(0, { backing: file }).device), "E_TARGET_REFUSED", /in use: it is the backing file of \/dev\/loop\d+\. Detach it first/);
  expect(device).toMatch(/^\/dev\/loop\d+$/);
  expect(statSync(file).size).toBe(1 << 20);
  expect(sha256Of(file)).toBe(before);
});
