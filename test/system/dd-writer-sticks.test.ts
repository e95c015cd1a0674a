/**
 * Several sticks at once and plug-in detection (issue 17 items 2, 3),
 * through dist/flk against real loop devices: `flk write IMAGE DEV1 DEV2`,
 * one failing stick (EIO from an immutable backing file) that does not stop
 * the other, refusals that leave every stick untouched, and
 * `--wait-for-device` with a loop device attached while flk waits (in this
 * VM no disk is "removable": a disk counts as appearing when its (name,
 * diskseq) is new — see plugins/dd-writer/wait.ts).
 */
import { expect } from "bun:test";
import { closeSync, openSync, writeSync } from "node:fs";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, onPty, randomBytes, scratchPerTest, sh, spawnFlk, sha256Of, writeFile, type Pty } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "chattr", "cmp", "lsblk", "sha256sum", "script", "mkfs.ext4", "mount"]);
const BIG = 256 << 20;
const t = scratchPerTest(BIG);

/**
 * Waiting tests use a large (sparse) image and a large loop device: other work on a shared machine attaches
 * small loop devices at any time, and a disk smaller than the image is waited past, never written.
 */
const WAIT_SIZE = 300 << 20;
function waitImage(): string {
  const path = t.s.path("nixos.iso");
  sh(["truncate", "-s", String(WAIT_SIZE), path]);
  const fd = openSync(path, "r+");
  writeSync(fd, new Uint8Array([0x55, 0xaa]), 0, 2, 510);
  writeSync(fd, randomBytes(1 << 20, false), 0, 1 << 20, 1 << 20);
  closeSync(fd);
  return path;
}
const waitLoop = () => t.s.loop(WAIT_SIZE + (20 << 20)).device;
/** How flk names a loop device (it has no model): by its backing file, as losetup reports it. */
const loopDevice = (device: string) => `loop device backed by ${sh(["losetup", "-n", "-O", "BACK-FILE", device])}`;

async function until(predicate: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

it("flk write IMAGE DEV1 DEV2 writes both sticks from one read of the image, each verified, with one NDJSON stream under --json", async () => {
  const image = writeFile(t.s.path("nixos.iso"), randomBytes(5 * 1048576 + 4231));
  const a = t.s.loop(8 << 20).device;
  const b = t.s.loop(8 << 20).device;
  const r = await flk(["write", image, a, b, "--json"]);
  expect(r.code).toBe(0);
  expect(cmp(image, a, 5 * 1048576 + 4231)).toBe(0);
  expect(cmp(image, b, 5 * 1048576 + 4231)).toBe(0);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(events.filter((e) => e.event === "done").map((e) => e.label).sort()).toEqual([`verifying ${a}`, `verifying ${b}`, `writing ${a}`, `writing ${b}`].sort());
  expect(events.filter((e) => e.event === "written").map((e) => [e.device, e.verified])).toEqual([[a, true], [b, true]]);
  expect(events.at(-1)).toEqual({ event: "summary", good: [a, b], failed: [] });
  expect(r.stderr).toContain(`2 of 2 sticks good: ${a}, ${b}.`);
});

it("one stick failing (EIO on every write) does not stop the other: exit 1, the summary names the good one, and it is verified", async () => {
  const good = t.s.loop(BIG + (1 << 20)).device;
  const bad = t.s.loop(BIG + (1 << 20));
  // An immutable backing file makes the loop driver fail every write with EIO. Set before flk starts (after the
  // attach): waiting for the write to get going and then setting it raced the write's end on a loaded machine.
  sh(["chattr", "+i", bad.backing]);
  t.s.defer(() => void Bun.spawnSync(["chattr", "-i", bad.backing]));
  const r = await spawnFlk(["write", t.bigImage, good, bad.device, "--json"]).done;
  expect(r.code).toBe(1);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const summary = events.find((e) => e.event === "summary");
  expect(summary.good).toEqual([good]);
  expect(summary.failed.map((f: { device: string }) => f.device)).toEqual([bad.device]);
  expect(summary.failed[0].error.code).toBe("E_DEVICE_LOST");
  expect(events.find((e) => e.event === "written")).toMatchObject({ device: good, verified: true, bytes: BIG });
  expect(r.stderr).toContain(`1 of 2 sticks good: ${good}; failed: ${bad.device}.`);
  expect(r.stderr).toContain(`1 of 2 sticks failed (${bad.device})`);
  expect(cmp(t.bigImage, good, BIG)).toBe(0);
});

it("a refused stick among several stops all of them before anything is written (exit 2); a stick named twice too", async () => {
  const image = writeFile(t.s.path("nixos.iso"), randomBytes(1 << 20));
  const free = t.s.loop(4 << 20).device;
  const before = sha256Of(free);
  const busy = t.s.loop(16 << 20).device;
  const at = t.s.mountExt4(busy);
  const r = await flk(["write", image, free, busy]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`refusing to write to ${busy}: in use: ${busy} is mounted on ${at}`);
  expect(sha256Of(free)).toBe(before);
  const twice = await flk(["write", image, free, free]);
  expect(twice.code).toBe(2);
  expect(twice.stderr).toContain(`${free} is named twice`);
  expect(sha256Of(free)).toBe(before);
});

it("on a terminal, several sticks get one progress line each", async () => {
  const a = t.s.loop(BIG + (1 << 20)).device;
  const b = t.s.loop(BIG + (1 << 20)).device;
  const r = await onPty([FLK, "write", t.bigImage, a, b], { killAfterMs: 60000 }).done;
  expect(r.code).toBe(0);
  for (const d of [a, b]) {
    expect(r.screen).toMatch(new RegExp(`writing ${d}: 256\\.0 MiB / 256\\.0 MiB \\(100%\\)`));
    expect(r.screen).toMatch(new RegExp(`verifying ${d}: 256\\.0 MiB / 256\\.0 MiB \\(100%\\)`));
  }
  expect(r.screen).toContain(`2 of 2 sticks good: ${a}, ${b}.`);
});

it("--wait-for-device --yes: says 'plug in the USB stick', sees a loop device attached while it waits, writes and verifies it", async () => {
  const image = waitImage();
  const run = spawnFlk(["write", image, "--wait-for-device", "--yes", "--timeout", "60"]);
  await until(() => run.stderr().includes("plug in the USB stick"), "the plug-in message");
  const device = waitLoop();
  const r = await run.done;
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`found ${device}: ${loopDevice(device)}, 320.0 MiB`);
  expect(r.stderr).toContain(`to ${device} in`);
  expect(cmp(image, device, WAIT_SIZE)).toBe(0);
});

it("--wait-for-device: without a terminal it needs --yes; a disk too small is reported and waited past; the timeout ends it with exit 2", async () => {
  const image = waitImage();
  const noYes = await flk(["write", image, "--wait-for-device"]);
  expect(noYes.code).toBe(2);
  expect(noYes.stderr).toContain("add --yes");
  const run = spawnFlk(["write", image, "--wait-for-device", "--yes", "--timeout", "3"]);
  await until(() => run.stderr().includes("plug in the USB stick"), "the plug-in message");
  const small = t.s.loop(512 << 10).device;
  const before = sha256Of(small);
  const r = await run.done;
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${small} appeared (${loopDevice(small)}, 512.0 KiB) but cannot be written: smaller than the image`);
  expect(r.stderr).toContain("no writable disk appeared within 3 s. Nothing was written.");
  expect(sha256Of(small)).toBe(before);
});

/**
 * Answer the erase question with "n" for every disk but `device`, then "y".
 * Other work on a shared machine may attach loop devices meanwhile: they
 * appear too, and must be declined, never written.
 */
async function acceptOnly(pty: Pty, device: string, declined = 0): Promise<void> {
  for (let asked = declined + 1; asked < declined + 10; asked++) {
    await pty.waitFor(new RegExp(`(erase \\S+ \\(.*\\)\\? \\[y/N\\][\\s\\S]*){${asked}}`), 30000);
    const last = [...pty.screen().matchAll(/erase (\S+) \(/g)].at(-1)![1];
    pty.type(last === device ? "y\r" : "n\r");
    if (last === device) return;
  }
  throw new Error(`flk never asked about ${device}`);
}

it("on a terminal: flk waits for the stick, shows each disk that appears and asks before erasing it; 'n' keeps waiting for another", async () => {
  const image = waitImage();
  const pty = onPty([FLK, "write", image, "--wait-for-device"], { killAfterMs: 90000 });
  await pty.waitFor("plug in the USB stick");
  const first = waitLoop();
  const before = sha256Of(first);
  await pty.waitFor(`erase ${first} (${loopDevice(first)}, 320.0 MiB)? [y/N]`, 30000);
  expect(pty.screen()).toContain(`found ${first}: ${loopDevice(first)}, 320.0 MiB`);
  pty.type("n\r");
  await pty.waitFor(`not ${first}: still waiting for another disk`);
  const second = waitLoop();
  await acceptOnly(pty, second, (pty.screen().match(/erase \S+ \(/g) ?? []).length);
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(cmp(image, second, WAIT_SIZE)).toBe(0);
  expect(sha256Of(first)).toBe(before);
});

it("on a terminal without a removable disk, the picker offers to wait for a stick; the one that appears is shown and asked about", async () => {
  const image = waitImage();
  waitLoop(); // a writable candidate, so the picker (not the plain wait) comes up
  const pty = onPty([FLK, "write", image], { killAfterMs: 60000 });
  await pty.waitFor(/to which device\?[\s\S]*[●○] cancel/);
  // Move to the "wait" option (just above "cancel") and choose it.
  for (let i = 0; i < 40 && !/● none of these: wait for a USB stick/.test(pty.screen().split("to which device?").at(-1)!); i++) {
    pty.type("\x1b[B");
    await Bun.sleep(50);
  }
  pty.type("\r");
  await pty.waitFor("plug in the USB stick");
  const device = waitLoop();
  await acceptOnly(pty, device);
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(r.screen).toContain(`found ${device}: ${loopDevice(device)}, 320.0 MiB`);
  expect(cmp(image, device, WAIT_SIZE)).toBe(0);
});
