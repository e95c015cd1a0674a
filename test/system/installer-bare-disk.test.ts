/**
 * From a bare loop "disk" to an installed target in one call:
 * `flk install NixOS --disk DEV --boot bios --swap … --hardware-config
 * --extra-files DIR` with the compiled binary, a recording stand-in
 * nixos-install and a recording stand-in nixos-generate-config first on
 * PATH (neither is packaged for Debian). Oracles: sfdisk --json and blkid
 * for the disk, findmnt for the mounts, stat for the copied files, the
 * site's file for the hardware configuration; `--undo` leaves nothing
 * mounted. Refusals prove the disk's sha256 and the site are unchanged.
 */
import { afterEach, describe, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { flk } from "../helpers/binary.ts";
import { bareDisk, createMachine, sh, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["losetup", "sfdisk", "partx", "blkid", "mkfs.ext4", "mkswap", "findmnt", "mount", "swapon", "tar", "base64", "sha256sum"]);

let machine: Machine | undefined;
let extra: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of extra.reverse()) await cleanup().catch(() => {});
  extra = [];
  await machine?.cleanup();
  machine = undefined;
});


function writeConfig(m: Machine): void {
  const labels = `{ root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }`;
  writeFileSync(join(m.site, "flk.toml"), `[installer]\nroot = "${m.root}"\nlabels = ${labels}\n`, { mode: 0o644 });
}

/** sops-nix style host keys: modes and a numeric owner that must survive the copy. */
function extraTree(m: Machine): string {
  const dir = join(m.dir, "extra");
  mkdirSync(join(dir, "etc", "ssh"), { recursive: true });
  writeFileSync(join(dir, "etc", "ssh", "ssh_host_ed25519_key"), "PRIVATE\n", { mode: 0o600 });
  writeFileSync(join(dir, "etc", "ssh", "ssh_host_ed25519_key.pub"), "PUBLIC\n", { mode: 0o644 });
  chownSync(join(dir, "etc", "ssh", "ssh_host_ed25519_key.pub"), 4321, 4322);
  chmodSync(join(dir, "etc", "ssh"), 0o711);
  symlinkSync("ssh_host_ed25519_key.pub", join(dir, "etc", "ssh", "inside-link"));
  return dir;
}

const env = (m: Machine) => ({ PATH: `${m.bin}:${process.env.PATH}:/usr/sbin:/sbin` });
const sha256 = async (device: string) => (await sh(["sha256sum", device])).stdout.split(" ")[0];

describe("flk install --disk: a bare disk becomes an installed target in one call", () => {
  test("compiled flk install NixOS --disk DEV --boot bios --swap 32M --hardware-config --extra-files DIR --yes: partitions, formats, mounts, copies, captures, installs; --undo leaves nothing mounted", async () => {
    machine = await createMachine();
    const m = machine;
    writeConfig(m);
    const device = await bareDisk(m, 400, (c) => extra.push(c));
    const dir = extraTree(m);
    const r = await flk(["install", "NixOS", "--disk", device, "--boot", "bios", "--swap", "32M", "--hardware-config", "--extra-files", dir, "--yes", "--json"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.steps.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ["partition", "ran"], ["partitions-appear", "ran"], ["mkfs-root", "ran"], ["mkfs-swap", "ran"], ["check-labels", "ran"],
      ["mkdir-root", "ran"], ["mount-root", "ran"], ["swapon", "ran"], ["hardware-config", "ran"], ["extra-files", "ran"], ["nixos-install", "ran"],
    ]);
    expect(report.disk.layout.table).toBe("dos");
    expect(report.source.kind).toBe("flake");
    // The disk, read back.
    const table = JSON.parse((await sh(["sfdisk", "--json", device])).stdout).partitiontable;
    expect(table.partitions.map((p: { node: string; type: string }) => [p.node, p.type])).toEqual([[`${device}p1`, "83"], [`${device}p2`, "82"]]);
    expect((await sh(["blkid", "-c", "/dev/null", "-o", "value", "-s", "LABEL", `${device}p1`])).stdout.trim()).toBe(m.labels.root);
    expect((await sh(["blkid", "-c", "/dev/null", "-o", "value", "-s", "TYPE", `${device}p2`])).stdout.trim()).toBe("swap");
    // nixos-install ran with root mounted from the new partition, swap on the new swap partition.
    const [call] = m.calls();
    expect(call!.argv).toEqual(["--flake", `${m.site}#NixOS`, "--root", m.root]);
    expect(call!.mounts).toEqual([`${m.root} ${device}p1`]);
    expect(await m.mounted()).toEqual([m.root]);
    expect(readFileSync("/proc/swaps", "utf8")).toContain(`${device}p2`);
    // --hardware-config: the stand-in ran on the mounted root, its text is in the site, with the import warning.
    expect(readFileSync(join(m.dir, "generate-config.args"), "utf8").split("\n").filter(Boolean)).toEqual(["--show-hardware-config", "--root", m.root]);
    expect(readFileSync(join(m.dir, "generate-config.mounts"), "utf8")).toContain(`${m.root} ${device}p1`);
    const hw = join(m.site, "hosts", "NixOS", "hardware-configuration.nix");
    expect(readFileSync(hw, "utf8")).toBe(`# stand-in hardware configuration (flk test), root ${m.root}\n{ config, lib, ... }:\n{ fileSystems."/" = { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; }; }\n`);
    expect(report.hardwareConfig.file).toBe(hw);
    expect(r.stderr).toContain("hosts/NixOS.nix does not import the hardware configuration: add `imports = [ ./NixOS/hardware-configuration.nix ];`");
    // --extra-files: modes, numeric owners and the inside link kept; the root directory itself keeps its own mode.
    const key = statSync(join(m.root, "etc", "ssh", "ssh_host_ed25519_key"));
    const pub = statSync(join(m.root, "etc", "ssh", "ssh_host_ed25519_key.pub"));
    expect([key.mode & 0o777, pub.mode & 0o777, pub.uid, pub.gid]).toEqual([0o600, 0o644, 4321, 4322]);
    expect(statSync(join(m.root, "etc", "ssh")).mode & 0o777).toBe(0o711);
    expect(readFileSync(join(m.root, "etc", "ssh", "inside-link"), "utf8")).toBe("PUBLIC\n");
    // --undo: nothing mounted, swap off.
    const undo = await flk(["install", "--undo"], { cwd: m.site, env: env(m) });
    expect(undo.code).toBe(0);
    expect(undo.stderr).toContain("undone: 2 steps reversed");
    expect(await m.mounted()).toEqual([]);
    expect(readFileSync("/proc/swaps", "utf8")).not.toContain(`${device}p2`);
  }, 120_000);

  test("--extra-files holding a link outside it is refused (exit 2) before the disk or the site is touched", async () => {
    machine = await createMachine();
    const m = machine;
    writeConfig(m);
    const device = await bareDisk(m, 400, (c) => extra.push(c));
    const dir = extraTree(m);
    symlinkSync("/etc/shadow", join(dir, "etc", "shadow"));
    const before = await sha256(device);
    const r = await flk(["install", "NixOS", "--disk", device, "--boot", "bios", "--hardware-config", "--extra-files", dir, "--yes"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("etc/shadow is a symbolic link to /etc/shadow, outside the directory");
    expect(await sha256(device)).toBe(before);
    expect(existsSync(join(m.site, "hosts", "NixOS"))).toBe(false);
    expect(m.calls()).toEqual([]);
    expect(await m.mounted()).toEqual([]);
  }, 60_000);

  test("without a terminal and without --yes the disk question refuses (exit 2), naming the disk with its size; nothing written", async () => {
    machine = await createMachine();
    const m = machine;
    writeConfig(m);
    const device = await bareDisk(m, 400, (c) => extra.push(c));
    const before = await sha256(device);
    const r = await flk(["install", "NixOS", "--disk", device, "--boot", "bios"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${device} (unknown model, 400.0 MiB)`);
    expect(r.stderr).toContain("--yes");
    expect(await sha256(device)).toBe(before);
    expect(await m.mounted()).toEqual([]);
  }, 60_000);

  test("--dry-run --disk plans the disk step first and writes nothing", async () => {
    machine = await createMachine();
    const m = machine;
    writeConfig(m);
    const device = await bareDisk(m, 400, (c) => extra.push(c));
    const before = await sha256(device);
    const r = await flk(["install", "NixOS", "--disk", device, "--boot", "bios", "--dry-run"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`disk ${device} (unknown model): dos, ${device}p1 ext4 '${m.labels.root}' (erased first)`);
    expect(r.stdout).toContain(`  1. wipe ${device} and write a MBR (dos) table`);
    expect(r.stdout.indexOf("sfdisk --wipe")).toBeLessThan(r.stdout.indexOf("nixos-install --flake "));
    expect(await sha256(device)).toBe(before);
  }, 60_000);
});

describe("flk install --disk with a relative path, as typed in the site", () => {
  test("--disk ../stick (a relative link to the loop device) is judged and written as /dev/loopN, then installed (stand-in nixos-install); a bare loopN is refused with 'Did you mean /dev/loopN?', sha256 unchanged", async () => {
    machine = await createMachine();
    const m = machine;
    writeConfig(m);
    const device = await bareDisk(m, 400, (c) => extra.push(c));
    symlinkSync(device, join(m.dir, "stick"));
    const before = await sha256(device);
    const name = device.replace("/dev/", "");
    const bare = await flk(["install", "NixOS", "--disk", name, "--boot", "bios", "--yes"], { cwd: m.site, env: env(m) });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(`'${name}' is not a path. Did you mean ${device}?`);
    expect(await sha256(device)).toBe(before);
    expect(m.calls()).toEqual([]);
    const r = await flk(["install", "NixOS", "--disk", "../stick", "--boot", "bios", "--yes", "--json"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.disk.device).toBe(device);
    expect(report.steps.find((s: { id: string }) => s.id === "partition").argv.at(-1)).toBe(device);
    const table = JSON.parse((await sh(["sfdisk", "--json", device])).stdout).partitiontable;
    expect(table.partitions.map((p: { node: string }) => p.node)).toEqual([`${device}p1`]);
    expect(m.calls()[0]!.mounts).toEqual([`${m.root} ${device}p1`]);
    expect((await flk(["install", "--undo"], { cwd: m.site, env: env(m) })).code).toBe(0);
    expect(await m.mounted()).toEqual([]);
  }, 120_000);
});
