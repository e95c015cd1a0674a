/**
 * `flk write IMAGE` on a terminal with no disk it could offer (issue 17
 * item 3): instead of a dead end, flk says "plug in the USB stick" and
 * waits by itself (no --wait-for-device), shows the disk that appears and
 * asks before erasing it. Through dist/flk under a pseudo-terminal.
 *
 * "Nothing to offer" is made real by size, not by hiding disks: the image
 * is larger than every disk `flk devices --json` calls writable right now
 * (this machine always has some loop device of another test attached), so
 * the picker has no candidate. Other work may attach a larger one before flk
 * lists the disks: then the picker shows, the test cancels it (Escape:
 * nothing written, exit 2) and starts again with a larger image. The stick
 * is a loop device attached while flk waits, with a backing file large
 * enough. Loop devices other work attaches meanwhile appear too: they are
 * answered "n" and never written.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { formatBytes } from "../../core/progress.ts";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { onPty, randomBytes, Scratch, sh, sha256Of, type Pty } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["script", "stty", "losetup", "lsblk", "sha256sum", "truncate"]);
const MiB = 1 << 20;
let s: Scratch;

beforeEach(() => {
  if (!existsSync(FLK)) throw new Error(`${FLK} is missing: run \`npm run build\` (or set FLK_BIN) before the system tests`);
  s = new Scratch();
});
afterEach(() => s.cleanup());

/** Write random MiBs at `offsets` of a sparse file of `size` bytes (so equal hashes mean the bytes were copied, not that both are zeros). */
function sparseFile(path: string, size: number, offsets: number[], mbr: boolean): string {
  sh(["truncate", "-s", String(size), path]);
  const fd = openSync(path, "r+");
  for (const at of offsets) writeSync(fd, randomBytes(MiB, false), 0, MiB, at);
  if (mbr) writeSync(fd, new Uint8Array([0x55, 0xaa]), 0, 2, 510); // a hybrid image's boot signature, so flk takes it for one
  closeSync(fd);
  return path;
}

/** An image 16 MiB larger than every disk flk would write on this machine now: the picker has nothing to offer. */
async function imageLargerThanEveryWritableDisk(): Promise<{ image: string; size: number }> {
  const rows = JSON.parse((await flk(["devices", "--json"])).stdout) as Array<{ path: string; size: number; verdict: string }>;
  const largest = Math.max(4 * MiB, ...rows.filter((r) => r.verdict === "writable").map((r) => r.size));
  const size = (Math.ceil(largest / MiB) + 16) * MiB;
  return { image: sparseFile(s.path("nixos.iso"), size, [0, size / 2, size - MiB], true), size };
}

/**
 * `flk write IMAGE` on a terminal, with nothing to offer, up to the point
 * where it waits. When other work attached a larger loop device before flk
 * listed the disks, the picker shows instead: Escape cancels it (exit 2,
 * nothing written), and the next try has a larger image.
 */
async function writeWithNothingToOffer(): Promise<{ pty: Pty; image: string; size: number; waiting: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const { image, size } = await imageLargerThanEveryWritableDisk();
    const pty = onPty([FLK, "write", image], { killAfterMs: 120000 });
    const screen = await pty.waitFor(/plug in the USB stick|to which device\?[\s\S]*[●○] cancel/);
    if (screen.includes("plug in the USB stick")) return { pty, image, size, waiting: screen };
    pty.type("\x1b");
    expect((await pty.done).code).toBe(2);
  }
  throw new Error("other work kept attaching larger loop devices: five tries, always something to offer");
}

/**
 * A loop device attached now, 1 MiB larger than the image, holding random
 * bytes where the image will go and after it. Its backing file is in RAM
 * (/dev/shm): the image is as large as the largest disk present, maybe a GiB.
 */
function plugIn(imageSize: number): { device: string; backing: string } {
  const dir = mkdtempSync("/dev/shm/flk-plug-in-");
  s.defer(() => rmSync(dir, { recursive: true, force: true }));
  const backing = sparseFile(join(dir, "stick.img"), imageSize + MiB, [0, imageSize / 2, imageSize - MiB, imageSize], false);
  return s.loop(imageSize + MiB, { backing });
}

/**
 * Wait for flk to ask about `device`, answering "n" for any other disk that
 * appears first (other work on this machine attaches loop devices too).
 * Returns the screen once the question about `device` is shown.
 */
async function questionAbout(pty: Pty, device: string): Promise<string> {
  for (let asked = 1; asked < 10; asked++) {
    const screen = await pty.waitFor(new RegExp(`(erase \\S+ \\(.*\\)\\? \\[y/N\\][\\s\\S]*){${asked}}`), 30000);
    const last = [...screen.matchAll(/erase (\S+) \(/g)].at(-1)![1];
    if (last === device) return screen;
    pty.type("n\r");
  }
  throw new Error(`flk never asked about ${device}`);
}

it("nothing to offer: says 'plug in the USB stick', shows the disk that appears (backing file, size), asks, and 'y' writes the image to it", async () => {
  const { pty, image, size, waiting } = await writeWithNothingToOffer();
  // No picker came first: it had nothing to offer, so flk went straight to waiting.
  expect(waiting).not.toContain("to which device?");
  expect(waiting).toContain(`plug in the USB stick (at least ${formatBytes(size)})`);
  const { device, backing } = plugIn(size);
  const shown = `loop device backed by ${sh(["losetup", "-n", "-O", "BACK-FILE", device])}, ${formatBytes(size + MiB)}`;
  expect(shown).toContain(backing);
  const screen = await questionAbout(pty, device);
  expect(screen).toContain(`found ${device}: ${shown}`);
  expect(screen).toContain(`erase ${device} (${shown})? [y/N]`);
  pty.type("y\r");
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(r.screen).toContain("flushed and verified");
  expect(sha256Of(device, size)).toBe(sha256Of(image));
});

it("nothing to offer: 'n' at the question about the disk that appeared leaves it unchanged, and flk keeps waiting until Ctrl-C", async () => {
  const { pty, size } = await writeWithNothingToOffer();
  const { device } = plugIn(size);
  const before = sha256Of(device);
  await questionAbout(pty, device);
  pty.type("n\r");
  await pty.waitFor(`not ${device}: still waiting for another disk`);
  // Waiting, the terminal is not in raw mode: Ctrl-C is SIGINT (130 after cleanup).
  pty.type("\x03");
  const r = await pty.done;
  expect(r.code).toBe(130);
  expect(r.screen).not.toContain("flushed and verified");
  expect(sha256Of(device)).toBe(before);
});
