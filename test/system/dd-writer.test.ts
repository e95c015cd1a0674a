/**
 * dd-writer end to end: the compiled binary ($FLK_BIN) against real loop
 * devices — success, refusal, --json, signals and device faults mid-write.
 */
import { expect } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, randomBytes, scratchPerTest, sh, spawnFlk, sha256Of, whenAllocated, writeFile, zramDisk } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "mkfs.ext4", "mount", "chattr", "cmp", "lsblk"]);
const BIG = 512 << 20;
const t = scratchPerTest(BIG);

it("flk write writes, verifies and reports JSON events; flk dd is the same command", async () => {
  const image = writeFile(t.s.path("nixos.iso"), randomBytes(5 * 1048576 + 4231));
  const { device } = t.s.loop(8 << 20);
  const r = await flk(["write", image, device, "--json"]);
  expect(r.code).toBe(0);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(events.at(-1)).toMatchObject({ event: "written", image, device, bytes: 5 * 1048576 + 4231, verified: true });
  expect(events.filter((e) => e.event === "done").map((e) => e.label)).toEqual([`writing ${device}`, `verifying ${device}`]);
  expect(cmp(image, device, 5 * 1048576 + 4231)).toBe(0);
  const dd = await flk(["dd", image, t.s.path("copy.img"), "--no-verify"]);
  expect(dd.code).toBe(0);
  expect(dd.stderr).toContain("not verified (--no-verify)");
  expect(cmp(image, t.s.path("copy.img"), 5 * 1048576 + 4231)).toBe(0);
});

it("flk write refuses a mounted target with exit 2 and says nothing was written", async () => {
  writeFile(t.s.path("nixos.iso"), randomBytes(100000));
  const { device } = t.s.loop(8 << 20);
  const at = t.s.mountExt4(device);
  const r = await flk(["write", t.s.path("nixos.iso"), device, "--force", "--yes"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`refusing to write to ${device}: in use: ${device} is mounted on ${at}. Nothing was written.`);
});

it("flk write refuses the backing file of an attached loop device with exit 2, also with --force, and leaves the file whole", async () => {
  const image = writeFile(t.s.path("img.iso"), randomBytes(1 << 20));
  const backing = writeFile(t.s.path("backing.img"), randomBytes(4 << 20, false));
  const { device } = t.s.loop(0, { backing });
  const before = sha256Of(backing);
  for (const extra of [["--no-verify"], ["--no-verify", "--force", "--yes"]]) {
    const r = await flk(["write", image, backing, ...extra]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to write to ${backing}: in use: it is the backing file of ${device}. Detach it first: losetup -d ${device}. Nothing was written.`);
  }
  expect(statSync(backing).size).toBe(4 << 20);
  expect(sha256Of(backing)).toBe(before);
});

it("flk write IMAGE DEVICE --sha256 with no value is a usage error (exit 2), not a write without a check", async () => {
  const image = writeFile(t.s.path("img.iso"), randomBytes(100000));
  const { device } = t.s.loop(1 << 20);
  const before = sha256Of(device);
  // core's flag parser answers a bare `--sha256` and `--sha256=`; dd-writer answers a blank value (and library callers).
  for (const flag of [["--sha256"], ["--sha256="], ["--sha256= "]]) {
    const r = await flk(["write", image, device, ...flag]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--sha256 needs a value");
  }
  expect(sha256Of(device)).toBe(before);
});

it("flk devices --json lists loop devices with their verdicts, in the documented shape", async () => {
  const { device: free, backing } = t.s.loop(4 << 20);
  const { device: busy } = t.s.loop(4 << 20);
  const at = t.s.mountExt4(busy);
  const r = await flk(["devices", "--json"]);
  expect(r.code).toBe(0);
  const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  const oracle = JSON.parse(sh(["lsblk", "--json", "--bytes", "--paths", "-o", "PATH,SIZE", free])).blockdevices[0];
  expect(rows.find((d) => d.path === free)).toEqual({ path: free, size: oracle.size, model: null, serial: null, removable: false, transport: null, type: "loop", verdict: "writable", reason: null, backing });
  expect(rows.find((d) => d.path === busy)).toMatchObject({ verdict: "refused", reason: `in use: ${busy} is mounted on ${at}` });
});

it("a non-removable disk needs --force, then a confirmation (--yes without a terminal)", async () => {
  const image = writeFile(t.s.path("nixos.iso"), randomBytes(300000));
  const disk = zramDisk(t.s, 4 << 20);
  const plain = await flk(["write", image, disk]);
  expect(plain.code).toBe(2);
  expect(plain.stderr).toMatch(/a non-removable disk .*4\.0 MiB.* add --force/);
  const forced = await flk(["write", image, disk, "--force"]);
  expect(forced.code).toBe(2);
  expect(forced.stderr).toContain("no terminal to confirm on. Nothing was written. Add --yes");
  expect(cmp(image, disk, 300000)).not.toBe(0);
  const yes = await flk(["write", image, disk, "--force", "--yes"]);
  expect(yes.code).toBe(0);
  expect(cmp(image, disk, 300000)).toBe(0);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const)
  it(`${signal} mid-write stops, closes, says the stick is incomplete and exits ${code}`, async () => {
    const { device, backing } = t.s.loop(BIG + (1 << 20));
    const run = spawnFlk(["write", t.bigImage, device]);
    await whenAllocated(backing, 48 << 20);
    run.child.kill(signal);
    const r = await run.done;
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(new RegExp(`stopped: ${device} is incomplete and not bootable \\(\\d+ of ${BIG} bytes written\\)`));
    expect(r.stderr).not.toContain("[success]");
  });

it("a device that fails mid-write (EIO) is retried, then reported lost at its offset with exit 1", async () => {
  const { device, backing } = t.s.loop(BIG + (1 << 20));
  const run = spawnFlk(["write", t.bigImage, device]);
  // An immutable backing file makes the loop driver fail every write with EIO from now on.
  await whenAllocated(backing, 48 << 20);
  sh(["chattr", "+i", backing]);
  t.s.defer(() => void Bun.spawnSync(["chattr", "-i", backing]));
  const r = await run.done;
  expect(r.code).toBe(1);
  const offset = Number(/device lost at offset (\d+) .*: write failed with EIO 4 times/.exec(r.stderr)?.[1]);
  expect(offset).toBeGreaterThan(0);
  expect(offset).toBeLessThan(BIG);
  expect(r.stderr).toContain("incomplete and not bootable");
  expect(r.stderr).not.toContain("[success]");
});

it("a loop device detached mid-write stays until flk closes it (the kernel defers the detach): the write completes verified", async () => {
  const { device, backing } = t.s.loop(BIG + (1 << 20));
  const run = spawnFlk(["write", t.bigImage, device]);
  await whenAllocated(backing, 48 << 20);
  sh(["losetup", "-d", device]);
  const r = await run.done;
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("flushed and verified");
  expect(cmp(t.bigImage, backing, BIG)).toBe(0);
  expect(sh(["losetup", "-j", backing])).toBe("");
});

it("a file system that fills up mid-write (ENOSPC) ends with exit 1, not success", async () => {
  const { device } = t.s.loop(8 << 20);
  const at = t.s.mountExt4(device);
  const image = writeFile(t.s.path("nixos.iso"), randomBytes(16 << 20));
  const r = await flk(["write", image, `${at}/stick.img`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/no space left on .*stick\.img at offset \d+/);
  expect(r.stderr).not.toContain("[success]");
  expect(existsSync(`${at}/stick.img`)).toBe(true);
});
