/** Writes that must succeed, checked with cmp/sha256sum against real loop devices and files. */
import { afterEach, beforeEach, expect } from "bun:test";
import { symlinkSync, statSync } from "node:fs";
import { systemTest } from "../../helpers/require.ts";
import { writeImage, writeImages } from "../../../plugins/dd-writer/write-image.ts";
import { bytesAt, cmp, flipByte, randomBytes, Scratch, sh, sha256Of, testFlk, writeFile } from "./helpers.ts";
import { writerHooks } from "../../../plugins/dd-writer/hooks.ts";

const it = systemTest(["losetup", "cmp", "sha256sum", "zstd", "xz", "gzip"]);
let s: Scratch;
beforeEach(() => (s = new Scratch()));
afterEach(() => s.cleanup());

it("writes an image of 4231 bytes (not a multiple of the block size) and leaves the bytes after it as they were", async () => {
  const image = writeFile(s.path("small.iso"), randomBytes(4231));
  const { device } = s.loop(1 << 20);
  sh(["bash", "-c", `head -c 1048576 /dev/urandom > ${device}`]);
  const after = bytesAt(device, 4231, 8192 - 4231);
  const outcome = await writeImage(testFlk(), { image, device, verify: true, force: false });
  expect(outcome).toMatchObject({ bytes: 4231, verified: true, device });
  expect(cmp(image, device, 4231)).toBe(0);
  expect(bytesAt(device, 4231, 8192 - 4231)).toEqual(after);
});

it("writes a multi-chunk image to a loop device reached through a symlink, and verifies it", async () => {
  const size = 20 * 1048576 + 4097;
  const image = writeFile(s.path("big.iso"), randomBytes(size));
  const { device } = s.loop(32 << 20);
  symlinkSync(device, s.path("by-id-usb-stick"));
  const outcome = await writeImage(testFlk(), { image, device: s.path("by-id-usb-stick"), verify: true, force: false });
  expect(outcome.device).toBe(device);
  expect(sha256Of(device, size)).toBe(sha256Of(image));
});

it("an image exactly as large as the device is fine", async () => {
  const image = writeFile(s.path("exact.iso"), randomBytes(1 << 20));
  const { device } = s.loop(1 << 20);
  await writeImage(testFlk(), { image, device, verify: true, force: false });
  expect(cmp(image, device, 1 << 20)).toBe(0);
});

it("writes to a regular file (created, or replaced and cut to the image's length)", async () => {
  const image = writeFile(s.path("img.iso"), randomBytes(3 * 1048576 + 123));
  await writeImage(testFlk(), { image, device: s.path("new.img"), verify: true, force: false });
  expect(sha256Of(s.path("new.img"))).toBe(sha256Of(image));
  writeFile(s.path("old.img"), randomBytes(9 << 20));
  await writeImage(testFlk(), { image, device: s.path("old.img"), verify: true, force: false });
  expect(statSync(s.path("old.img")).size).toBe(3 * 1048576 + 123);
  expect(sha256Of(s.path("old.img"))).toBe(sha256Of(image));
});

// xz compresses random data slowly: its image stays below one chunk.
for (const [ext, argv, size] of [
  ["zst", ["zstd", "-q", "-k"], 9 * 1048576 + 77],
  ["gz", ["gzip", "-k", "-1"], 9 * 1048576 + 77],
  ["xz", ["xz", "-k", "-0", "-T1"], 1048576 + 77],
] as const)
  it(`streams a .iso.${ext} through its decompressor and verifies against the decompressed bytes`, async () => {
    const image = writeFile(s.path("nixos.iso"), randomBytes(size));
    sh([...argv, image]);
    const { device } = s.loop(16 << 20);
    const outcome = await writeImage(testFlk(), { image: `${image}.${ext}`, device, verify: true, force: false });
    expect(outcome.bytes).toBe(size);
    expect(cmp(image, device, size)).toBe(0);
  });

it("the default image is the single result/iso/*.iso, and one /dev argument is the device", async () => {
  sh(["mkdir", "-p", s.path("site/result/iso")]);
  const image = writeFile(s.path("site/result/iso/nixos.iso"), randomBytes(70000));
  const { device } = s.loop(1 << 20);
  const outcome = await writeImage(testFlk({ cwd: s.path("site") }), { image: device, verify: false, force: false });
  expect(outcome).toMatchObject({ image, verified: false });
  expect(cmp(image, device, 70000)).toBe(0);
});

for (const [where, at] of [
  ["first", (n: number) => 0],
  ["middle", (n: number) => Math.floor(n / 2)],
  ["last", (n: number) => n - 1],
] as const)
  it(`verify fails naming the offset when the ${where} image byte on the device is corrupted after writing`, async () => {
    const size = 17 * 1048576 + 4231;
    const image = writeFile(s.path("v.iso"), randomBytes(size));
    const { device, backing } = s.loop(32 << 20);
    const offset = at(size);
    const good = bytesAt(image, offset, 1);
    // Fill the loop device's page cache with the good bytes, then corrupt the backing file behind it:
    // a buffered read still answers the good byte, only a read that bypasses the cache sees the bad one.
    const corrupt = () => {
      sh(["dd", `if=${device}`, "of=/dev/null", "bs=1M", "status=none"]);
      flipByte(backing, offset);
      expect(bytesAt(device, offset, 1)).toEqual(good);
    };
    const run = writeImage(testFlk(), { image, device, verify: true, force: false, beforeVerify: corrupt });
    await expect(run).rejects.toMatchObject({ code: "E_VERIFY", exitCode: 1, message: expect.stringContaining(`differs from the image at offset ${offset} `) });
  });

it("calls beforeWrite after the checks and afterWrite after the verify, in that order; a throwing beforeWrite tap stops the write", async () => {
  const image = writeFile(s.path("h.iso"), randomBytes(100000));
  const { device } = s.loop(1 << 20);
  const calls: string[] = [];
  const flk = testFlk();
  writerHooks(flk).beforeWrite.tapPromise("test", async (w) => void calls.push(`before ${w.device} ${w.bytes}`));
  writerHooks(flk).afterWrite.tapPromise("test", async (w) => void calls.push(`after ${w.device} ${w.bytes} ${w.verified}`));
  await writeImage(flk, { image, device, verify: true, force: false, beforeVerify: () => void calls.push("verify") });
  expect(calls).toEqual([`before ${device} 100000`, "verify", `after ${device} 100000 true`]);
  const refusing = testFlk();
  writerHooks(refusing).beforeWrite.tapPromise("test", async () => {
    throw new Error("observer says no");
  });
  const other = writeFile(s.path("other.iso"), randomBytes(100000));
  await expect(writeImage(refusing, { image: other, device, verify: true, force: false })).rejects.toThrow("observer says no");
  expect(cmp(image, device, 100000)).toBe(0);
});

// Several sticks verify in step: one is hashed per chunk, the others compared with it byte for byte.
for (const which of [0, 1] as const)
  it(`with two sticks, a byte corrupted on stick ${which + 1} fails that stick's verify at its offset, and the other is verified`, async () => {
    const size = 17 * 1048576 + 4231;
    const image = writeFile(s.path("v.iso"), randomBytes(size));
    const sticks = [s.loop(32 << 20), s.loop(32 << 20)];
    const offset = 9 * 1048576 + 17;
    const corrupt = (path: string) => {
      if (path === sticks[which]!.device) flipByte(sticks[which]!.backing, offset);
    };
    const results = await writeImages(testFlk(), { image, device: sticks[0]!.device, devices: [sticks[1]!.device], verify: true, force: false, beforeVerify: corrupt });
    const bad = results.find((r) => r.device === sticks[which]!.device)!;
    const good = results.find((r) => r.device === sticks[1 - which]!.device)!;
    expect(bad.error).toMatchObject({ code: "E_VERIFY", exitCode: 1, message: expect.stringContaining(`differs from the image at offset ${offset} `) });
    expect(good.outcome).toMatchObject({ verified: true, bytes: size });
    expect(cmp(image, sticks[1 - which]!.device, size)).toBe(0);
  });
