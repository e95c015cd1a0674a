/**
 * flk disk on loop devices, as root: the written table read back with
 * `sfdisk --json`, each filesystem with blkid (the oracles), and every
 * refusal proving the disk's sha256 did not change. This kernel has no
 * partition-table parser, so flk's own `partx` step is what makes the
 * partition nodes appear; vfat is made (and checked with blkid), never mounted.
 */
import { afterEach, describe, expect } from "bun:test";
import { testFlk as sharedTestFlk } from "../helpers/flk.ts";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { FLK, flk as runFlk } from "../helpers/binary.ts";
import { onPty } from "../plugins/dd-writer/helpers.ts";
import { createFlk, type Flk } from "../../core/context.ts";
import { resolveConfig } from "../../core/config.ts";
import { PluginRegistry } from "../../core/plugin.ts";
import installer from "../../plugins/installer/index.ts";
import { disk } from "../../plugins/installer/disk.ts";
import { GPT_TYPES } from "../../plugins/installer/layout.ts";
import { sh } from "../plugins/installer/fixtures.ts";

const test = systemTest(["losetup", "sfdisk", "partx", "blkid", "mkfs.ext4", "mkfs.fat", "mkswap", "sha256sum", "script"]);
const MiB = 1024 * 1024;

let cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups = [];
});

/** A scratch dir and a sparse loop "disk" of `mib` MiB; cleanup drops partitions (partx -d) before detaching. */
async function loopDisk(mib: number): Promise<{ dir: string; device: string }> {
  const dir = mkdtempSync(join(tmpdir(), "flk-disk-"));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, "disk.img");
  writeFileSync(image, "");
  await sh(["truncate", "-s", `${mib}M`, image]);
  const device = (await sh(["losetup", "-f", "--show", image])).stdout.trim();
  if (!device.startsWith("/dev/loop")) throw new Error("losetup failed");
  cleanups.push(async () => {
    await sh(["partx", "-d", device]);
    await sh(["losetup", "-d", device]);
  });
  return { dir, device };
}

function testFlk(labels = { root: "nixos", boot: "boot", swap: "swap" }, yes = true): Flk {
  return sharedTestFlk({ plugins: [installer], options: { installer: { labels } }, cwd: tmpdir(), flags: { yes } });
}

async function sfdiskJson(device: string) {
  return JSON.parse((await sh(["sfdisk", "--json", device])).stdout).partitiontable as {
    label: string; partitions: Array<{ node: string; start: number; size: number; type: string; name?: string; bootable?: boolean }>;
  };
}

async function blkid(node: string): Promise<Record<string, string>> {
  const out = (await sh(["blkid", "-c", "/dev/null", "-p", "-o", "export", node])).stdout;
  return Object.fromEntries(out.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}

async function sha256(device: string): Promise<string> {
  return (await sh(["sha256sum", device])).stdout.split(" ")[0]!;
}

/** Random bytes over the first MiB (a stale table and superblocks to destroy), so "unchanged" means something. */
async function scribble(device: string): Promise<void> {
  await sh(["dd", "if=/dev/urandom", `of=${device}`, "bs=1M", "count=1", "conv=fsync", "status=none"]);
}

describe("flk disk: the NixOS manual's layout on a loop device", () => {
  test("UEFI with --swap: GPT root/swap/ESP read back with sfdisk --json, labels and types with blkid, partition nodes made by flk's partx step", async () => {
    const { device } = await loopDisk(900);
    await scribble(device);
    const report = await disk(testFlk(), { device, boot: "uefi", swap: "64M" });
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["partition", "ran"], ["partitions-appear", "ran"], ["mkfs-root", "ran"], ["mkfs-swap", "ran"], ["mkfs-boot", "ran"], ["check-labels", "ran"],
    ]);
    const table = await sfdiskJson(device);
    expect(table.label).toBe("gpt");
    expect(table.partitions.map((p) => [p.node, p.type, p.name])).toEqual([
      [`${device}p1`, GPT_TYPES.linux, "root"], [`${device}p2`, GPT_TYPES.swap, "swap"], [`${device}p3`, GPT_TYPES.esp, "ESP"],
    ]);
    const [root, swap, esp] = table.partitions;
    expect([esp!.start, esp!.size * 512]).toEqual([2048, 512 * MiB]);
    expect(swap!.size * 512).toBe(64 * MiB);
    expect(root!.start).toBe(2048 + (512 * MiB) / 512);
    expect(root!.start + root!.size).toBe(swap!.start);
    expect(await blkid(`${device}p1`)).toMatchObject({ LABEL: "nixos", TYPE: "ext4" });
    expect(await blkid(`${device}p2`)).toMatchObject({ LABEL: "swap", TYPE: "swap" });
    expect(await blkid(`${device}p3`)).toMatchObject({ LABEL: "boot", TYPE: "vfat", VERSION: "FAT32", PART_ENTRY_TYPE: GPT_TYPES.esp.toLowerCase() });
  }, 60_000);

  test("BIOS: MBR with a bootable root (83) and swap (82) at the end, read back", async () => {
    const { device } = await loopDisk(400);
    await scribble(device);
    await disk(testFlk(), { device, boot: "bios", swap: "32M" });
    const table = await sfdiskJson(device);
    expect(table.label).toBe("dos");
    expect(table.partitions.map((p) => [p.node, p.type, p.start, p.size * 512, Boolean(p.bootable)])).toEqual([
      [`${device}p1`, "83", 2048, 400 * MiB - MiB - 32 * MiB, true], [`${device}p2`, "82", (400 * MiB - 32 * MiB) / 512, 32 * MiB, false],
    ]);
    expect(await blkid(`${device}p1`)).toMatchObject({ LABEL: "nixos", TYPE: "ext4" });
    expect(await blkid(`${device}p2`)).toMatchObject({ LABEL: "swap", TYPE: "swap" });
  }, 60_000);

  test("--dry-run (compiled flk) prints the sfdisk script and the mkfs commands and writes nothing", async () => {
    const { device } = await loopDisk(400);
    await scribble(device);
    const before = await sha256(device);
    const r = await runFlk(["disk", device, "--boot", "bios", "--swap", "32M", "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("label: dos");
    expect(r.stdout).toContain("start=2048, size=");
    expect(r.stdout).toContain(`mkfs.ext4 -F -L nixos ${device}p1`);
    expect(r.stdout).toContain(`mkswap -L swap ${device}p2`);
    const json = await runFlk(["disk", device, "--boot", "bios", "--swap", "32M", "--dry-run", "--json"]);
    const doc = JSON.parse(json.stdout);
    expect([doc.device, doc.boot, doc.bootFrom, doc.dryRun, doc.layout.table]).toEqual([device, "bios", "flag", true, "dos"]);
    expect(doc.layout.partitions.map((p: { role: string; label: string; fs: string }) => [p.role, p.label, p.fs])).toEqual([["root", "nixos", "ext4"], ["swap", "swap", "swap"]]);
    expect(doc.layout.mkfs[0]).toEqual(["mkfs.ext4", "-F", "-L", "nixos", `${device}p1`]);
    // UEFI needs 512 MiB for the ESP: this disk is too small, and the refusal says what it needs.
    const small = await runFlk(["disk", device, "--boot", "uefi", "--dry-run"]);
    expect(small.code).toBe(2);
    expect(small.stderr).toContain("too small");
    expect(await sha256(device)).toBe(before);
  }, 60_000);
});

describe("flk disk refuses, and the disk's sha256 stays the same (exit 2)", () => {
  async function refused(device: string, args: string[] = ["--yes"]) {
    const before = await sha256(device);
    const r = await runFlk(["disk", device, "--boot", "bios", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Nothing was written");
    expect(await sha256(device)).toBe(before);
    return r;
  }

  test("a disk with a mounted filesystem", async () => {
    const { dir, device } = await loopDisk(300);
    await sh(["mkfs.ext4", "-q", "-F", device]);
    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    await sh(["mount", "-o", "ro", device, mnt]);
    cleanups.push(() => sh(["umount", mnt]));
    const r = await refused(device);
    expect(r.stderr).toContain(`mounted on ${mnt}`);
  }, 60_000);

  test("a disk in use as swap", async () => {
    const { device } = await loopDisk(300);
    await sh(["mkswap", device]);
    await sh(["swapon", device]);
    cleanups.push(() => sh(["swapoff", device]));
    const r = await refused(device);
    expect(r.stderr).toContain("swap");
  }, 60_000);

  test("a loop device stacked on a loop device whose filesystem is mounted", async () => {
    const { dir, device: lower } = await loopDisk(300);
    await sh(["mkfs.ext4", "-q", "-F", lower]);
    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    await sh(["mount", "-o", "ro", lower, mnt]);
    cleanups.push(() => sh(["umount", mnt]));
    const upper = (await sh(["losetup", "-f", "--show", lower])).stdout.trim();
    // Were it written, its partitions would outlive the detach on this kernel: drop them first.
    cleanups.push(async () => (await sh(["partx", "-d", upper]), await sh(["losetup", "-d", upper])));
    await refused(upper);
  }, 60_000);

  test("no terminal and no --yes: refuses, naming --yes", async () => {
    const { device } = await loopDisk(300);
    await scribble(device);
    const r = await refused(device, []);
    expect(r.stderr).toContain("no terminal to confirm on");
    expect(r.stderr).toContain("--yes");
  }, 60_000);

  test("on a terminal, a wrong name typed at the question: not confirmed", async () => {
    const { device } = await loopDisk(300);
    await scribble(device);
    const before = await sha256(device);
    const pty = onPty([FLK, "disk", device, "--boot", "bios"]);
    const shown = await pty.waitFor(/Type '.*' to confirm/);
    expect(shown).toContain(`Everything on ${device}`);
    expect(shown).toContain("300.0 MiB");
    pty.type("loop-something-else\r");
    const { code, screen } = await pty.done;
    expect(code).toBe(2);
    expect(screen).toContain("not confirmed");
    expect(await sha256(device)).toBe(before);
  }, 60_000);

  test("on a terminal, typing the device's name goes ahead", async () => {
    const { device } = await loopDisk(300);
    const pty = onPty([FLK, "disk", device, "--boot", "bios"]);
    await pty.waitFor(/Type '.*' to confirm/);
    pty.type(`${device.replace("/dev/", "")}\r`);
    const { code, screen } = await pty.done;
    expect(code).toBe(0);
    expect(screen).toContain("is ready");
    expect(await blkid(`${device}p1`)).toMatchObject({ LABEL: "nixos", TYPE: "ext4" });
  }, 60_000);
});

describe("flk disk --host: a host that defines disko gets its own layout", () => {
  /** A site whose `Disko` host defines disko.devices for `device` and a stand-in diskoScript (built by nix, run by flk); `Plain` has none. */
  async function diskoSite(dir: string, device: string): Promise<string> {
    const site = join(dir, "site");
    mkdirSync(site);
    // The stand-in disko script: its own layout (one GPT partition named disko-root, ext4 label dk-root), not the manual's.
    writeFileSync(join(site, "disko.sh"), [
      "#!/bin/sh",
      "# stand-in for a host's system.build.diskoScript (flk test)",
      "set -e",
      `printf 'label: gpt\\nstart=2048, type=L, name=disko-root\\n' | sfdisk --wipe always '${device}'`,
      `partx -u '${device}' || partx -a '${device}'`,
      `mkfs.ext4 -q -F -L dk-root '${device}p1'`,
      "",
    ].join("\n"), { mode: 0o755 });
    writeFileSync(join(site, "flake.nix"), `{
  outputs = _: {
    nixosConfigurations.Disko.config = {
      disko.devices.disk.main.device = "${device}";
      system.build.diskoScript = derivation {
        name = "disko-stand-in"; system = "x86_64-linux"; builder = "/bin/sh";
        args = [ "-c" "/bin/cp \${./disko.sh} $out && /bin/chmod 0555 $out" ];
      };
    };
    nixosConfigurations.Plain.config = { };
  };
}
`);
    return site;
  }
  const nixEnv = { NIX_CONFIG: "substituters =\nsandbox = false" };

  test("runs the host's disko script (read back: its one partition and label), and --json says so", async () => {
    const { dir, device } = await loopDisk(300);
    const site = await diskoSite(dir, device);
    const r = await runFlk(["disk", device, "--host", "Disko", "--yes", "--json"], { cwd: site, env: nixEnv });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect([report.layout, report.disko.host, report.disko.disks]).toEqual([null, "Disko", { main: device }]);
    expect(report.steps.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([["disko", "ran"]]);
    const table = await sfdiskJson(device);
    expect(table.partitions.map((p) => [p.node, p.name])).toEqual([[`${device}p1`, "disko-root"]]);
    expect(await blkid(`${device}p1`)).toMatchObject({ LABEL: "dk-root", TYPE: "ext4" });
    // A host without disko gets the manual's layout.
    const plain = await runFlk(["disk", device, "--host", "Plain", "--boot", "bios", "--dry-run", "--json"], { cwd: site, env: nixEnv });
    expect(JSON.parse(plain.stdout).layout.table).toBe("dos");
  }, 120_000);

  test("refuses a DEVICE the host's disko does not name (exit 2), disk unchanged", async () => {
    const { dir, device } = await loopDisk(300);
    const other = await loopDisk(300);
    const site = await diskoSite(dir, device);
    await scribble(other.device);
    const before = await sha256(other.device);
    const r = await runFlk(["disk", other.device, "--host", "Disko", "--yes"], { cwd: site, env: nixEnv });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Disko's disko layout formats ${device}, not ${other.device}`);
    expect(await sha256(other.device)).toBe(before);
  }, 120_000);
});

test("SIGTERM while a slow stand-in mkfs.ext4 runs: flk disk stops the script's whole process group, waits, says the disk may be partly written, exits 143; the stand-in is gone", async () => {
  const { dir, device } = await loopDisk(300);
  const slow = join(dir, "slow-bin");
  mkdirSync(slow);
  // A stand-in mkfs.ext4 (named so): records its pid, then waits.
  writeFileSync(join(slow, "mkfs.ext4"), `#!/bin/sh\necho $$ > '${dir}/mkfs.pid'\nexec sleep 60\n`, { mode: 0o755 });
  const child = Bun.spawn([FLK, "disk", device, "--boot", "bios", "--yes"], { env: { ...process.env, NO_COLOR: "1", PATH: `${slow}:${process.env.PATH}:/usr/sbin:/sbin` }, stdout: "pipe", stderr: "pipe" });
  const pidFile = join(dir, "mkfs.pid");
  for (let i = 0; i < 400 && !(await Bun.file(pidFile).exists()); i++) await Bun.sleep(25);
  const pid = Number((await Bun.file(pidFile).text()).trim());
  child.kill("SIGTERM");
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(code).toBe(143);
  const alive = (() => { try { return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; } })();
  expect(alive).toBe(false);
  expect(stderr).toContain(`interrupted: flk disk ${device} was stopped and has exited; the disk may be partly written`);
}, 60_000);

test("on the stick, flk disk --host uses the disko script /etc/flk/live.json records (prebuilt, in the store): the flake's own build, which would fail, is never run", async () => {
  const { dir, device } = await loopDisk(300);
  const site = join(dir, "site");
  mkdirSync(site);
  writeFileSync(join(site, "flake.nix"), `{ outputs = _: { nixosConfigurations.Disko.config = {
    disko.devices.disk.main.device = "${device}";
    system.build.diskoScript = derivation { name = "never-built"; system = "x86_64-linux"; builder = "/bin/false"; };
  }; }; }\n`);
  const script = join(dir, "prebuilt-disko");
  writeFileSync(script, `#!/bin/sh\n# stand-in prebuilt disko script (flk test)\nset -e\nprintf 'label: dos\\nstart=2048, type=83\\n' | sfdisk --wipe always '${device}'\npartx -u '${device}' || partx -a '${device}'\nmkfs.ext4 -q -F -L prebuilt '${device}p1'\n`, { mode: 0o755 });
  const stored = (await sh(["nix-store", "--add", script])).stdout.trim();
  const record = join(dir, "live.json");
  writeFileSync(record, JSON.stringify({ version: 1, host: "Disko", toplevel: stored, flake: site, narHash: `sha256-${"A".repeat(43)}=`, diskoScript: stored }));
  const plugins = [installer];
  const config = resolveConfig(new PluginRegistry(plugins), { plugins: ["installer"] }, undefined);
  const flk = createFlk({ plugins, config, cwd: site, flags: { json: false, verbose: false, yes: true, color: false } });
  const saved = process.env.NIX_CONFIG;
  process.env.NIX_CONFIG = "substituters =\nsandbox = false";
  try {
    const report = await disk(flk, { device, host: "Disko", liveRecord: record });
    expect(report.disko).toEqual({ host: "Disko", disks: { main: device }, script: stored });
    expect(report.steps[0]!.argv).toEqual(["sh", "-c", 'exec "$1"', "disko", stored]);
  } finally {
    process.env.NIX_CONFIG = saved;
  }
  expect(await blkid(`${device}p1`)).toMatchObject({ LABEL: "prebuilt", TYPE: "ext4" });
}, 120_000);

describe("flk disk --host with a two-disk disko layout: every disk the layout formats is judged and named", () => {
  /**
   * A site whose `Two` host puts disko.devices.disk.main on `main` and disk.data on `data`,
   * with a stand-in diskoScript (named so) that, like the script nix-community/disko's
   * module.nix builds (`system.build.diskoScript`: destroy, format and mount every
   * disko.devices.disk.*; e.g. its example/mdadm.nix names two disks), writes both disks.
   */
  function twoDiskSite(dir: string, main: string, data: string): string {
    const site = join(dir, "site");
    mkdirSync(site);
    writeFileSync(join(site, "disko.sh"), [
      "#!/bin/sh",
      "# stand-in for a two-disk host's system.build.diskoScript (flk test)",
      "set -e",
      ...[main, data].map((d) => `printf 'label: gpt\\nstart=2048, type=L\\n' | sfdisk --wipe always '${d}'`),
      "",
    ].join("\n"), { mode: 0o755 });
    writeFileSync(join(site, "flake.nix"), `{
  outputs = _: {
    nixosConfigurations.Two.config = {
      disko.devices.disk.main.device = "${main}";
      disko.devices.disk.data.device = "${data}";
      system.build.diskoScript = derivation {
        name = "disko-two-stand-in"; system = "x86_64-linux"; builder = "/bin/sh";
        args = [ "-c" "/bin/cp \${./disko.sh} $out && /bin/chmod 0555 $out" ];
      };
    };
  };
}
`);
    return site;
  }
  const nixEnv = { NIX_CONFIG: "substituters =\nsandbox = false" };

  test("the other disk mounted: flk disk MAIN --host Two --yes is exit 2 naming it, before the script runs; both disks' sha256 unchanged", async () => {
    const main = await loopDisk(300);
    const data = await loopDisk(300);
    const site = twoDiskSite(main.dir, main.device, data.device);
    await scribble(main.device);
    await sh(["mkfs.ext4", "-q", "-F", data.device]);
    // Not mounted yet: --dry-run names both disks it would erase.
    const dry = await runFlk(["disk", main.device, "--host", "Two", "--dry-run"], { cwd: site, env: nixEnv });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`erases: ${main.device} \\(.*300\\.0 MiB\\), ${data.device} \\(.*300\\.0 MiB\\)`));
    const json = JSON.parse((await runFlk(["disk", main.device, "--host", "Two", "--dry-run", "--json"], { cwd: site, env: nixEnv })).stdout);
    expect(json.erases.map((d: { path: string }) => d.path)).toEqual([main.device, data.device]);
    // No terminal, no --yes: the refusal names both.
    const unconfirmed = await runFlk(["disk", main.device, "--host", "Two"], { cwd: site, env: nixEnv });
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain(`erases everything on ${main.device} (`);
    expect(unconfirmed.stderr).toContain(`and ${data.device} (`);
    const mnt = join(data.dir, "mnt");
    mkdirSync(mnt);
    await sh(["mount", "-o", "ro", data.device, mnt]);
    cleanups.push(() => sh(["umount", mnt]));
    const before = [await sha256(main.device), await sha256(data.device)];
    for (const args of [["--yes"], ["--dry-run"]]) {
      const r = await runFlk(["disk", main.device, "--host", "Two", ...args], { cwd: site, env: nixEnv });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`refusing to partition ${data.device} (Two's disko layout formats ${data.device} too): in use: ${data.device} is mounted on ${mnt}`);
      expect(r.stderr).toContain("Nothing was written");
    }
    expect([await sha256(main.device), await sha256(data.device)]).toEqual(before);
  }, 120_000);

  test("on a terminal the question names both disks; a wrong answer writes neither. Unmounted and confirmed with --yes, the script writes both", async () => {
    const main = await loopDisk(300);
    const data = await loopDisk(300);
    const site = twoDiskSite(main.dir, main.device, data.device);
    await scribble(main.device);
    await scribble(data.device);
    const before = [await sha256(main.device), await sha256(data.device)];
    const pty = onPty([FLK, "disk", main.device, "--host", "Two"], { cwd: site, env: nixEnv });
    const shown = await pty.waitFor(/Type '.*' to confirm/);
    expect(shown).toContain(`Everything on ${main.device}`);
    expect(shown).toContain(data.device);
    pty.type("nope\r");
    expect((await pty.done).code).toBe(2);
    expect([await sha256(main.device), await sha256(data.device)]).toEqual(before);
    const r = await runFlk(["disk", main.device, "--host", "Two", "--yes"], { cwd: site, env: nixEnv });
    if (r.code !== 0) console.error(r.stderr);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`--yes: erasing ${main.device} (`);
    expect(r.stderr).toContain(`and ${data.device} (`);
    expect((await sfdiskJson(main.device)).label).toBe("gpt");
    expect((await sfdiskJson(data.device)).label).toBe("gpt");
  }, 120_000);
});

test("a disk the kernel holds though no check sees it (here: this test process has it open O_EXCL): flk disk --yes is exit 2 'busy', nothing written (sha256 unchanged), not sfdisk failing halfway", async () => {
  const { device } = await loopDisk(300);
  await scribble(device);
  const before = await sha256(device);
  const { closeSync, constants, openSync } = await import("node:fs");
  const held = openSync(device, constants.O_RDONLY | constants.O_EXCL);
  try {
    const r = await runFlk(["disk", device, "--boot", "bios", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${device} is busy: the kernel reports it in use (held by something flk's checks cannot see`);
    expect(r.stderr).toContain("Nothing was written");
    expect(r.stderr).not.toContain("partly written");
  } finally {
    closeSync(held);
  }
  expect(await sha256(device)).toBe(before);
}, 60_000);

test("a relative path (../stick, a link to the loop device) is resolved and the disk it names is judged and written, as flk write does; a bare name is still 'did you mean /dev/NAME?'", async () => {
  const { dir, device } = await loopDisk(300);
  const { symlinkSync } = await import("node:fs");
  symlinkSync(device, join(dir, "stick"));
  mkdirSync(join(dir, "sub"));
  const dry = await runFlk(["disk", "../stick", "--boot", "bios", "--dry-run", "--json"], { cwd: join(dir, "sub") });
  expect(dry.code).toBe(0);
  expect(JSON.parse(dry.stdout).device).toBe(device);
  const before = await sha256(device);
  const bare = await runFlk(["disk", device.replace("/dev/", ""), "--boot", "bios", "--yes"], { cwd: join(dir, "sub") });
  expect(bare.code).toBe(2);
  expect(bare.stderr).toContain(`Did you mean ${device}?`);
  expect(await sha256(device)).toBe(before);
  const r = await runFlk(["disk", "../stick", "--boot", "bios", "--yes"], { cwd: join(dir, "sub") });
  expect(r.code).toBe(0);
  expect((await sfdiskJson(device)).label).toBe("dos");
}, 60_000);

test("the loop device re-pointed at another file while the question waits (same /dev/loopN): the claim proves the confirmed disk, exit 2 'the device changed', neither file written", async () => {
  for (let attempt = 0; ; attempt++) {
    const { dir, device } = await loopDisk(300);
    await scribble(device);
    const first = join(dir, "disk.img");
    const second = join(dir, "other.img");
    await sh(["truncate", "-s", "300M", second]);
    await sh(["dd", "if=/dev/urandom", `of=${second}`, "bs=1M", "count=1", "conv=notrunc,fsync", "status=none"]);
    const sums = async () => [(await sh(["sha256sum", first])).stdout.split(" ")[0], (await sh(["sha256sum", second])).stdout.split(" ")[0]];
    const before = await sums();
    const pty = onPty([FLK, "disk", device, "--boot", "bios"]);
    await pty.waitFor(/Type '.*' to confirm/);
    await sh(["losetup", "-d", device]);
    // Another process may take the freed number first (a shared machine): then try again with a fresh device.
    const reattached = await sh(["losetup", device, second]);
    if (reattached.code !== 0) {
      pty.type("\r");
      await pty.done;
      if (attempt < 3) continue;
      throw new Error(`could not re-attach ${device}: ${reattached.stderr}`);
    }
    pty.type(`${device.replace("/dev/", "")}\r`);
    const { code, screen } = await pty.done;
    expect(code).toBe(2);
    expect(screen).toContain(`${device}: the device changed between the checks and the write`);
    expect(screen).toContain("run flk disk again");
    expect(await sums()).toEqual(before);
    return;
  }
}, 120_000);
