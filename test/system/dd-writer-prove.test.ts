/**
 * "Check, then prove" through dist/flk (DESIGN.md; issue 16 items 5 and 8,
 * issue 14 item 8): the image is opened once and must be a regular file, two
 * writes to one file do not both succeed, and image errors say what they are.
 * The races themselves are reproduced step by step in
 * test/plugins/dd-writer/changed.test.ts (a beforeWrite tap swaps things
 * between the checks and the open).
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, statSync, symlinkSync } from "node:fs";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, randomBytes, Scratch, sha256Of, writeFile } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "zstd", "lsblk", "sha256sum", "cmp"]);
let s: Scratch;
beforeEach(() => (s = new Scratch()));
afterEach(() => s.cleanup());

it("an IMAGE that is a symlink to a disk is refused (exit 2): a raw device is never copied onto the stick", async () => {
  const secret = s.loop(0, { backing: writeFile(s.path("secret.img"), randomBytes(1 << 20)) });
  const target = writeFile(s.path("out.img"), randomBytes(1 << 20, false));
  const before = sha256Of(target);
  symlinkSync(secret.device, s.path("nixos.iso"));
  const r = await flk(["write", s.path("nixos.iso"), target, "--force", "--yes"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`image ${s.path("nixos.iso")} (→ ${secret.device}) is a block device, not an image file`);
  expect(sha256Of(target)).toBe(before);
});

it("two flk writes to the same file at once: the second is refused with exit 2 while the first writes, and the file holds the first image, verified", async () => {
  const first = writeFile(s.path("first.iso"), randomBytes(128 << 20));
  const second = writeFile(s.path("second.iso"), randomBytes(1 << 20));
  const target = s.path("shared.img");
  const a = Bun.spawn([FLK, "write", first, target], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const deadline = Date.now() + 20000;
  while (!(existsSync(target) && statSync(target).size > 0) && Date.now() < deadline) await Bun.sleep(2);
  const b = await flk(["write", second, target]);
  const [aCode, aErr] = await Promise.all([a.exited, new Response(a.stderr).text()]);
  expect(b.code).toBe(2);
  expect(b.stderr).toContain(`${target} is being written by another flk write`);
  expect(aCode).toBe(0);
  expect(aErr).toContain("flushed and verified");
  expect(cmp(first, target, 128 << 20)).toBe(0);
});

it("a corrupt .iso.zst is reported as corrupt (exit 2, nothing written), not as 'not an ISO, add --force'", async () => {
  writeFile(s.path("nixos.iso.zst"), randomBytes(100000, false));
  const { device } = s.loop(1 << 20);
  const before = sha256Of(device);
  for (const extra of [[], ["--force"]]) {
    const r = await flk(["write", s.path("nixos.iso.zst"), device, ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`the image ${s.path("nixos.iso.zst")} is corrupt or truncated: \`zstd -dc\` failed`);
    expect(r.stderr).not.toContain("add --force");
  }
  expect(sha256Of(device)).toBe(before);
});

it("image errors other than ENOENT are not 'does not exist'", async () => {
  writeFile(s.path("plain"), randomBytes(10, false));
  const target = s.path("out.img");
  const notDir = await flk(["write", s.path("plain/nixos.iso"), target]);
  expect(notDir.code).toBe(2);
  expect(notDir.stderr).toContain(`cannot read image ${s.path("plain/nixos.iso")}: ENOTDIR`);
  expect(notDir.stderr).not.toContain("does not exist");
  symlinkSync("loop-b", s.path("loop-a"));
  symlinkSync("loop-a", s.path("loop-b"));
  const loop = await flk(["write", s.path("loop-a"), target]);
  expect(loop.code).toBe(2);
  expect(loop.stderr).toContain("ELOOP");
  const missing = await flk(["write", s.path("nope.iso"), target]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("does not exist");
  expect(existsSync(target)).toBe(false);
});
