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
