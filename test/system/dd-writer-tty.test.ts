/**
 * dd-writer's questions on a real terminal: the compiled binary ($FLK_BIN)
 * runs under a pseudo-terminal (util-linux `script`), the test reads what it
 * shows and types the answers. Targets are loop devices and hot-added zram
 * disks only; the machine's own disks are never offered, and the test
 * asserts so before it presses Enter on anything.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync } from "node:fs";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, onPty, randomBytes, Scratch, sh, sha256Of, stripAnsi, writeFile, zramDisk, type Pty } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["script", "stty", "losetup", "cmp", "lsblk", "sha256sum"]);
const SIZE = 300000;
const QUESTION = "to which device?";
/** The question is drawn with its options; the last one is "cancel" (waiting for it avoids reading a half-drawn list). */
const DRAWN = /to which device\?[\s\S]*[●○] cancel/;
let s: Scratch;

beforeEach(() => {
  if (!existsSync(FLK)) throw new Error(`${FLK} is missing: run \`npm run build\` (or set FLK_BIN) before the system tests`);
  s = new Scratch();
});
afterEach(() => s.cleanup());

/** A disk holding random bytes (so "unchanged" means something), with its sha256. */
function filled(device: string, size: number): string {
  writeFile(device, randomBytes(size, false));
  return sha256Of(device);
}

/** The options of the device question as first drawn: one line each, "● " marks the active one. */
function options(screen: string): string[] {
  const after = screen.slice(screen.indexOf(QUESTION) + QUESTION.length).split("\n");
  const lines: string[] = [];
  for (const line of after.slice(1)) {
    if (!/^[●○] /.test(line)) break;
    lines.push(line.slice(2));
  }
  return lines;
}

/** The option the cursor is on now: the last "● …" the terminal drew. */
function active(screen: string): string | undefined {
  return [...screen.matchAll(/● (.*)/g)].at(-1)?.[1];
}

/** Move the cursor of the device question to the option starting with `path` and check it is there before anything is chosen. */
async function moveTo(pty: Pty, path: string): Promise<void> {
  const offered = options(await pty.waitFor(DRAWN));
  const index = offered.findIndex((o) => o.split(/\s/)[0] === path);
  expect(index).toBeGreaterThanOrEqual(0);
  for (let i = 0; i < index; i++) {
    pty.type("\x1b[B");
    await Bun.sleep(40);
  }
  const deadline = Date.now() + 5000;
  while (active(pty.screen())?.split(/\s/)[0] !== path) {
    if (Date.now() > deadline) {
      pty.type("\x1b");
      throw new Error(`the cursor did not reach ${path}; the terminal showed:\n${pty.screen()}`);
    }
    await Bun.sleep(20);
  }
}

/** The machine's own disks (not loop, not zram): flk must never offer them. */
function realDisks(): string[] {
  const rows = JSON.parse(sh(["lsblk", "--json", "--bytes", "--paths", "--nodeps", "-o", "PATH,TYPE"])).blockdevices as Array<{ path: string; type: string }>;
  return rows.filter((r) => r.type === "disk" && !/^\/dev\/(loop|zram)\d+$/.test(r.path)).map((r) => r.path);
}

it("non-removable disk, --force, on a terminal: the question shows model, serial and size; a wrong name refuses with exit 2 and the disk is unchanged", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const disk = zramDisk(s, 4 << 20);
  const before = filled(disk, 4 << 20);
  const oracle = JSON.parse(sh(["lsblk", "--json", "--bytes", "--paths", "--nodeps", "-o", "PATH,MODEL,SERIAL,SIZE", disk])).blockdevices[0];
  const pty = onPty([FLK, "write", image, disk, "--force"]);
  const shown = await pty.waitFor(/Type '.*' to confirm/);
  // zram has no model or serial (lsblk: null), so flk says "unknown model" and shows no serial; the size is lsblk's.
  const model = oracle.model ?? "unknown model";
  const serial = oracle.serial ? ` \\(serial ${oracle.serial}[^)]*\\)` : "";
  expect(oracle.size).toBe(4 << 20);
  expect(shown).toMatch(new RegExp(`${disk} is a NON-REMOVABLE disk: ${model}${serial}, 4\\.0 MiB\\. Everything on it will be lost\\. Type '${disk.slice(5)}' to confirm`));
  pty.type("sda\r");
  const r = await pty.done;
  expect(r.code).toBe(2);
  expect(r.screen).toContain(`not confirmed (expected '${disk.slice(5)}'): nothing was written to ${disk}.`);
  expect(r.screen).not.toContain("[success]");
  expect(sha256Of(disk)).toBe(before);
});

it("non-removable disk, --force, on a terminal: typing the disk's name writes and verifies", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const disk = zramDisk(s, 4 << 20);
  filled(disk, 4 << 20);
  const pty = onPty([FLK, "write", image, disk, "--force"]);
  await pty.waitFor(/Type '.*' to confirm/);
  pty.type(`${disk.slice(5)}\r`);
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(r.screen).toContain("flushed and verified");
  expect(cmp(image, disk, SIZE)).toBe(0);
});

it("on a terminal too, --yes answers the typed confirmation but never stands in for --force", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const disk = zramDisk(s, 4 << 20);
  const before = filled(disk, 4 << 20);
  const refused = await onPty([FLK, "write", image, disk, "--yes"]).done;
  expect(refused.code).toBe(2);
  expect(refused.screen).toMatch(/a non-removable disk .*4\.0 MiB.* add --force/);
  expect(sha256Of(disk)).toBe(before);
  const forced = await onPty([FLK, "write", image, disk, "--force", "--yes"]).done;
  expect(forced.code).toBe(0);
  expect(forced.screen).not.toContain("to confirm");
  expect(cmp(image, disk, SIZE)).toBe(0);
});

it("a named loop device is written on a terminal without a question (loop devices are files, exempt from both confirmations)", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const { device } = s.loop(4 << 20);
  const r = await onPty([FLK, "write", image, device]).done;
  expect(r.code).toBe(0);
  expect(r.screen).not.toMatch(/Erase .*\?|to confirm/);
  expect(cmp(image, device, SIZE)).toBe(0);
});

it("without DEVICE on a terminal: only writable candidates are offered (never the machine's disks), and the chosen loop device is written", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const { device: other } = s.loop(4 << 20);
  const untouched = filled(other, 4 << 20);
  const { device } = s.loop(4 << 20);
  const disk = zramDisk(s, 4 << 20);
  const pty = onPty([FLK, "write", image]);
  const screen = await pty.waitFor(DRAWN);
  const offered = options(screen).map((o) => o.split(/\s/)[0]);
  expect(offered).toContain(device);
  expect(offered).toContain(other);
  expect(offered.at(-1)).toBe("cancel");
  // What is not offered is listed above the question, each with its reason.
  const notOffered = stripAnsi(screen.slice(screen.indexOf("not offered:"), screen.indexOf(QUESTION)));
  expect(notOffered).toMatch(new RegExp(`${disk}\\s.*needs-force`));
  for (const real of realDisks()) expect(notOffered).toMatch(new RegExp(`${real}\\s.*refused: `));
  // Not offered: a non-removable disk without --force, and every real disk of this machine (flk devices says why).
  expect(offered).not.toContain(disk);
  const verdicts = JSON.parse((await flk(["devices", "--json"])).stdout) as Array<{ path: string; verdict: string }>;
  for (const real of realDisks()) {
    expect(offered).not.toContain(real);
    expect(verdicts.find((d) => d.path === real)?.verdict).not.toBe("writable");
  }
  // The picker names the image it will write, then asks before erasing the chosen disk.
  expect(screen).toContain(`image: ${image} (293.0 KiB)`);
  expect(screen).toContain("Write nixos.iso to which device?");
  await moveTo(pty, device);
  pty.type("\r");
  // A loop device has no model: flk names it by its backing file (losetup is the oracle).
  await pty.waitFor(`erase ${device} (loop device backed by ${sh(["losetup", "-n", "-O", "BACK-FILE", device])}, 4.0 MiB)? [y/N]`);
  pty.type("y\r");
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(r.screen).toContain("flushed and verified");
  expect(cmp(image, device, SIZE)).toBe(0);
  expect(sha256Of(other)).toBe(untouched);
});

it("without DEVICE on a terminal: a device smaller than the image is not offered (listed with the reason), and 'n' at the erase question writes nothing", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const { device: small } = s.loop(256 << 10);
  const { device } = s.loop(4 << 20);
  const before = filled(device, 4 << 20);
  const pty = onPty([FLK, "write", image]);
  const screen = await pty.waitFor(DRAWN);
  const offered = options(screen).map((o) => o.split(/\s/)[0]);
  expect(offered).toContain(device);
  expect(offered).not.toContain(small);
  expect(screen).toMatch(new RegExp(`${small}\\s.*smaller than the image \\(256\\.0 KiB < 293\\.0 KiB\\)`));
  await moveTo(pty, device);
  pty.type("\r");
  await pty.waitFor("[y/N]");
  pty.type("n\r");
  const r = await pty.done;
  expect(r.code).toBe(2);
  expect(r.screen).toContain(`not confirmed: nothing was written to ${device}.`);
  expect(sha256Of(device)).toBe(before);
});

it("without DEVICE, --force on a terminal: a non-removable disk is offered, and choosing it still asks for its name", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const disk = zramDisk(s, 4 << 20);
  filled(disk, 4 << 20);
  const pty = onPty([FLK, "write", image, "--force"]);
  const offered = options(await pty.waitFor(DRAWN)).map((o) => o.split(/\s/)[0]);
  for (const real of realDisks()) expect(offered).not.toContain(real);
  await moveTo(pty, disk);
  pty.type("\r");
  await pty.waitFor(`Type '${disk.slice(5)}' to confirm`);
  pty.type(`${disk.slice(5)}\r`);
  const r = await pty.done;
  expect(r.code).toBe(0);
  expect(cmp(image, disk, SIZE)).toBe(0);
});

// In the question the terminal is in raw mode: Ctrl-C is a key (0x03), not SIGINT, and cancels like Escape.
// Nothing was written, so it is the documented "refused before doing anything" exit 2, not 130.
for (const [how, keys] of [
  ["Escape", "\x1b"],
  ["Ctrl-C", "\x03"],
] as const)
  it(`without DEVICE on a terminal: ${how} at the question writes nothing and exits 2`, async () => {
    const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
    const { device } = s.loop(4 << 20);
    const before = filled(device, 4 << 20);
    const pty = onPty([FLK, "write", image]);
    await pty.waitFor(DRAWN);
    pty.type(keys);
    const r = await pty.done;
    expect(r.code).toBe(2);
    expect(r.screen).toContain("no device chosen: nothing was written.");
    expect(sha256Of(device)).toBe(before);
  });

it("without DEVICE on a terminal: the 'cancel' option writes nothing and exits 2", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(SIZE));
  const { device } = s.loop(4 << 20);
  const before = filled(device, 4 << 20);
  const pty = onPty([FLK, "write", image]);
  await moveTo(pty, "cancel");
  pty.type("\r");
  const r = await pty.done;
  expect(r.code).toBe(2);
  expect(r.screen).toContain("no device chosen: nothing was written.");
  expect(sha256Of(device)).toBe(before);
});
