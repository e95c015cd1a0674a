/**
 * The first hour with `flk write` (issue 15 item 1), through dist/flk: a
 * bare device name, an existing file that is not an image, a stale result/
 * and `flk devices` naming a loop device's backing file. Each refusal shows
 * that nothing was created or changed.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { cmp, onPty, randomBytes, Scratch, sh, sha256Of, writeFile } from "../plugins/dd-writer/helpers.ts";

const it = systemTest(["losetup", "lsblk", "sha256sum", "cmp", "script", "touch"]);
let s: Scratch;
beforeEach(() => (s = new Scratch()));
afterEach(() => s.cleanup());

it("`flk write IMAGE loopN` (a bare name that exists as /dev/loopN) is refused with a did-you-mean, and no ./loopN is created", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  const { device } = s.loop(1 << 20);
  const before = sha256Of(device);
  const name = basename(device);
  const listing = readdirSync(s.dir).sort();
  const r = await flk(["write", image, name], { cwd: s.dir });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${name} is not a path, but /dev/${name} exists: did you mean /dev/${name}?`);
  expect(readdirSync(s.dir).sort()).toEqual(listing);
  expect(sha256Of(device)).toBe(before);
  // ./loopN says "the file here" and is written.
  const ok = await flk(["write", image, `./${name}`], { cwd: s.dir });
  expect(ok.code).toBe(0);
  expect(cmp(image, s.path(name), 100000)).toBe(0);
});

it("an existing file that is not an image is not overwritten without --force; an earlier image is", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  const notes = s.path("notes.txt");
  writeFileSync(notes, "my notes\n".repeat(100));
  const before = sha256Of(notes);
  const r = await flk(["write", image, notes]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${notes} exists and is not a disk image (no ISO9660 or MBR signature): flk would overwrite it. If you mean to replace it, add --force.`);
  expect(sha256Of(notes)).toBe(before);
  const forced = await flk(["write", image, notes, "--force"]);
  expect(forced.code).toBe(0);
  expect(cmp(image, notes, 100000)).toBe(0);
  // Now it is an image: writing another image over it needs no --force.
  const again = await flk(["write", writeFile(s.path("other.iso"), randomBytes(50000)), notes]);
  expect(again.code).toBe(0);
});

/** A site with flake.nix and hosts/, and a result/iso/NAME.iso whose link is `age` old. */
function site(age: string): { dir: string; iso: string } {
  const dir = s.path("site");
  mkdirSync(join(dir, "hosts"), { recursive: true });
  writeFileSync(join(dir, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(dir, "hosts", "NixOS.nix"), "{ }\n");
  const store = s.path("store-iso");
  mkdirSync(join(store, "iso"), { recursive: true });
  const iso = writeFile(join(store, "iso", "nixos-NixOS.iso"), randomBytes(100000));
  symlinkSync(store, join(dir, "result"));
  sh(["touch", "-h", "-d", age, join(dir, "result")]);
  return { dir, iso };
}

it("a stale result/ (hosts/ changed after it was built, i.e. the last flk iso failed) is not written silently: exit 2 without a terminal, a question on one", async () => {
  const { dir } = site("2 hours ago");
  const { device } = s.loop(1 << 20);
  const before = sha256Of(device);
  const r = await flk(["write", device], { cwd: dir });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/result\/iso\/nixos-NixOS\.iso is stale: result\/ was built .*, but (hosts\/NixOS\.nix|flake\.nix) changed later/);
  expect(sha256Of(device)).toBe(before);
  const pty = onPty([FLK, "write", device], { cwd: dir });
  await pty.waitFor("write it anyway? [y/N]");
  pty.type("\r");
  const refused = await pty.done;
  expect(refused.code).toBe(2);
  expect(sha256Of(device)).toBe(before);
});

it("a fresh result/ is written without a question", async () => {
  const { dir, iso } = site("now");
  const { device } = s.loop(1 << 20);
  const r = await flk(["write", device], { cwd: dir });
  expect(r.code).toBe(0);
  expect(cmp(iso, device, 100000)).toBe(0);
});

it("flk devices shows a loop device's backing file (text and --json)", async () => {
  const { device, backing } = s.loop(1 << 20);
  const text = await flk(["devices"]);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(new RegExp(`${device}\\s.*backed by ${backing}`));
  const rows = JSON.parse((await flk(["devices", "--json"])).stdout) as Array<{ path: string; backing: string | null }>;
  expect(rows.find((r) => r.path === device)?.backing).toBe(backing);
  expect(rows.filter((r) => !r.path.startsWith("/dev/loop")).every((r) => r.backing === null)).toBe(true);
  expect(existsSync(backing)).toBe(true);
});

/** Run dist/flk with a hard 15 s limit (a hang is the bug some of these guard against). */
async function bounded(args: string[], options: { stdout?: "pipe" } = {}): Promise<{ code: number; stderr: string; ms: number }> {
  const started = Date.now();
  const child = Bun.spawn([FLK, ...args], { env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore", stdout: options.stdout ?? "ignore", stderr: "pipe" });
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  clearTimeout(timer);
  return { code, stderr, ms: Date.now() - started };
}

it("a FIFO as the image (or as --sha256's file) is refused at once with exit 2, not waited on forever; the device's sha256 is unchanged", async () => {
  const fifo = s.path("f.iso");
  sh(["mkfifo", fifo]);
  const { device } = s.loop(1 << 20);
  const before = sha256Of(device);
  const r = await bounded(["write", fifo, device, "--yes"]);
  expect(r.code).toBe(2);
  expect(r.ms).toBeLessThan(10_000);
  expect(r.stderr).toContain(`image ${fifo} is a FIFO, not an image file`);
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  const sums = s.path("SHA256SUMS");
  sh(["mkfifo", sums]);
  const bySums = await bounded(["write", image, device, "--sha256", sums, "--yes"]);
  expect(bySums.code).toBe(2);
  expect(bySums.stderr).toContain(`--sha256 ${sums}: not a regular file`);
  expect(sha256Of(device)).toBe(before);
});

it("/dev/stdout piped into another program as DEVICE is a clear exit-2 refusal, not a raw ENOENT", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  // `flk write IMG /dev/stdout | cat`, with a real pipe (bash: the exit status of flk, not of cat).
  const r = sh(["bash", "-c", '"$0" write "$1" /dev/stdout --yes 2>"$2" | cat; echo "exit ${PIPESTATUS[0]}"', FLK, image, s.path("stderr")]);
  const stderr = Bun.file(s.path("stderr"));
  const text = await stderr.text();
  expect(r.trim()).toBe("exit 2");
  expect(text).toContain("/dev/stdout (→ pipe:[");
  expect(text).toContain("is not a block device or an image file");
  expect(text).not.toContain("ENOENT");
  // The same through a socket (what a spawning program's pipe often is).
  const viaSocket = await bounded(["write", image, "/dev/stdout", "--yes"], { stdout: "pipe" });
  expect(viaSocket.code).toBe(2);
  expect(viaSocket.stderr).toContain("is not a block device or an image file");
});

it("an active swap file as DEVICE, even with --force, is refused as in use (exit 2), not a raw ETXTBSY; its sha256 is unchanged", async () => {
  const image = writeFile(s.path("nixos.iso"), randomBytes(100000));
  const swapfile = s.path("swapfile");
  sh(["dd", "if=/dev/zero", `of=${swapfile}`, "bs=1M", "count=16", "status=none"]);
  sh(["chmod", "0600", swapfile]);
  sh(["mkswap", swapfile]);
  sh(["swapon", swapfile]);
  s.defer(() => void Bun.spawnSync(["swapoff", swapfile]));
  const before = sha256Of(swapfile);
  const r = await bounded(["write", image, swapfile, "--force", "--yes"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`refusing to write to ${swapfile}: in use: it is an active swap file (swapoff ${swapfile} first)`);
  expect(sha256Of(swapfile)).toBe(before);
});
