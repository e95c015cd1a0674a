/**
 * flk install on real loop devices, as root: labelled ext4 and swap found
 * with blkid, real mounts and swapon, a recording stand-in for nixos-install
 * (it is not packaged for Debian). Each test uses its own random labels and
 * temp root, never /mnt; the real /nix/store is only overlaid inside a
 * private mount namespace (installer-overlay.test.ts).
 */
import { afterEach, describe, expect } from "bun:test";
import { refusal } from "../helpers/refusal.ts";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { install } from "../../plugins/installer/install.ts";
import { createMachine, machineFlk, sh, withPath, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["losetup", "mkfs.ext4", "mkswap", "blkid", "findmnt", "mount", "swapon"]);
process.env.NIX_CONFIG = "substituters =";

let machine: Machine | undefined;
afterEach(async () => {
  await machine?.cleanup();
  machine = undefined;
});

async function fullMachine(): Promise<Machine> {
  machine = await createMachine();
  await machine.disk("ext4", machine.labels.root);
  await machine.disk("ext4", machine.labels.boot);
  await machine.disk("swap", machine.labels.swap);
  return machine;
}


describe("flk install on loop devices, with a recording stand-in nixos-install first on PATH", () => {
  test("mounts root and boot by label, swaps on, runs the stand-in nixos-install with the exact arguments; a second run mounts nothing twice", async () => {
    const m = await fullMachine();
    const [rootDev, bootDev, swapDev] = m.devices;
    const flk = machineFlk(m);
    flk.passthrough = ["--no-root-passwd", "--option", "max-jobs", "2"];
    const first = await withPath(m.bin, () => install(flk, { host: "NixOS", impure: true, extraArgs: flk.passthrough }));
    expect(first.steps.map((s) => [s.id, s.status])).toEqual([
      ["mkdir-root", "ran"], ["mount-root", "ran"], ["mkdir-boot", "ran"], ["mount-boot", "ran"], ["swapon", "ran"], ["nixos-install", "ran"],
    ]);
    const expectedArgv = ["--flake", `${m.site}#NixOS`, "--root", m.root, "--impure", "--no-root-passwd", "--option", "max-jobs", "2"];
    const [call] = m.calls();
    expect(call!.argv).toEqual(expectedArgv);
    expect(call!.cwd).toBe(m.site);
    // The stand-in saw root and boot mounted from the labelled devices while it ran.
    expect(call!.mounts.sort()).toEqual([`${m.root} ${rootDev}`, `${m.root}/boot ${bootDev}`].sort());
    expect(await m.swapping()).toEqual([swapDev!]);

    const second = await withPath(m.bin, () => install(flk, { host: "NixOS", impure: true, extraArgs: flk.passthrough }));
    expect(second.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["nixos-install"]);
    expect(m.calls().map((c) => c.argv)).toEqual([expectedArgv, expectedArgv]);
    expect((await m.mounted()).sort()).toEqual([m.root, `${m.root}/boot`]);
  });

  test("--undo unmounts and swaps off in reverse order and leaves nothing mounted; a second --undo finds nothing to do", async () => {
    const m = await fullMachine();
    const flk = machineFlk(m);
    await withPath(m.bin, () => install(flk, { host: "NixOS" }));
    expect((await m.mounted()).length).toBe(2);
    const undone = await withPath(m.bin, () => install(flk, { undo: true }));
    expect(undone.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "mount-boot", "swapon"]);
    // Reverse order is in the script: swapoff, then /boot, then the root.
    const order = ["swapoff", `umount ${m.root}/boot >&2`, `umount ${m.root} >&2`].map((cmd) => undone.script.indexOf(cmd));
    expect(order.every((at, i) => at > 0 && (i === 0 || at > order[i - 1]!))).toBe(true);
    expect(await m.mounted()).toEqual([]);
    expect(await m.swapping()).toEqual([]);
    const again = await withPath(m.bin, () => install(flk, { undo: true }));
    expect(again.steps.filter((s) => s.status === "ran")).toEqual([]);
  });

  test("--undo leaves alone a root mounted from a device flk would not have mounted", async () => {
    const m = await fullMachine();
    const other = await m.disk("ext4", `fo${m.labels.root.slice(2)}`);
    mkdirSync(m.root, { recursive: true });
    await sh(["mount", other, m.root]);
    await withPath(m.bin, () => install(machineFlk(m), { undo: true }));
    expect(await m.mounted()).toEqual([m.root]);
  });

  test("refuses a root label found on two devices, mounting nothing (exit 2)", async () => {
    const m = await fullMachine();
    const twin = await m.disk("ext4", m.labels.root);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS" })));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("E_LABEL_DUPLICATE");
    expect(error.message).toContain(m.devices[0]!);
    expect(error.message).toContain(twin);
    expect(await m.mounted()).toEqual([]);
    expect(m.calls()).toEqual([]);
  });

  test("refuses when no filesystem carries the root label, saying how to make one (exit 2)", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.boot);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS" })));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("E_LABEL_MISSING");
    expect(error.message).toContain(`mkfs.ext4 -L ${m.labels.root}`);
    expect(await m.mounted()).toEqual([]);
  });

  test("refuses a root already mounted from another device (exit 2) and touches nothing", async () => {
    const m = await fullMachine();
    const other = await m.disk("ext4", `fo${m.labels.root.slice(2)}`);
    mkdirSync(m.root, { recursive: true });
    await sh(["mount", other, m.root]);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS" })));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("E_ROOT_MOUNTED");
    expect(error.message).toContain(`umount ${m.root}`);
    expect(await m.mounted()).toEqual([m.root]);
    expect(await m.swapping()).toEqual([]);
    expect(m.calls()).toEqual([]);
  });

  test("refuses a root device already mounted at another directory (exit 2), naming it; nothing else is mounted or run", async () => {
    const m = await fullMachine();
    const elsewhere = join(m.dir, "elsewhere");
    mkdirSync(elsewhere);
    await sh(["mount", m.devices[0]!, elsewhere]);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS" })));
    expect([error.exitCode, error.code]).toEqual([2, "E_DEVICE_IN_USE"]);
    expect(error.message).toContain(`mounted at ${elsewhere}`);
    expect(error.message).toContain(`umount ${elsewhere}`);
    expect(await m.mounted()).toEqual([elsewhere]);
    expect(await m.swapping()).toEqual([]);
    expect(m.calls()).toEqual([]);
  });

  test("resolves the root label through an injected /dev/disk/by-label link (its realpath) and mounts that device; a second run mounts nothing twice", async () => {
    const m = await fullMachine();
    const rootDev = m.devices[0]!;
    // A second node for the same loop device: only the link leads to this name, so seeing it proves the link was used.
    const node = join(m.dir, "nodes", "target-root");
    mkdirSync(join(m.dir, "nodes"));
    await sh(["sh", "-c", 'mknod "$1" b $(stat -c "0x%t 0x%T" "$2")', "mknod", node, rootDev]);
    const byLabel = join(m.dir, "by-label");
    mkdirSync(byLabel);
    symlinkSync("../nodes/target-root", join(byLabel, m.labels.root));
    symlinkSync(m.devices[1]!, join(byLabel, m.labels.boot));
    const first = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", paths: { byLabel } }));
    expect([first.devices.root!.path, first.devices.boot!.path, first.devices.swap!.path]).toEqual([node, m.devices[1]!, m.devices[2]!]);
    expect(first.steps.find((s) => s.id === "mount-root")!.argv).toEqual(["mount", node, m.root]);
    expect(first.warnings.join("\n")).not.toContain("by-label");
    expect(m.calls()[0]!.mounts).toContain(`${m.root} ${node}`);
    const second = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", paths: { byLabel } }));
    expect(second.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["nixos-install"]);
    expect((await m.mounted()).sort()).toEqual([m.root, `${m.root}/boot`]);
  });

  test("a stale by-label link (to a device that no longer carries the label) loses to blkid: the labelled device is mounted, with a warning", async () => {
    const m = await fullMachine();
    const other = await m.disk("ext4", `fo${m.labels.root.slice(2)}`);
    const byLabel = join(m.dir, "by-label");
    mkdirSync(byLabel);
    symlinkSync(other, join(byLabel, m.labels.root));
    const report = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", paths: { byLabel } }));
    expect(report.devices.root!.path).toBe(m.devices[0]!);
    expect(report.warnings.join("\n")).toContain(`/dev/disk/by-label/${m.labels.root} points to ${other}`);
    expect(m.calls()[0]!.mounts.sort()).toEqual([`${m.root} ${m.devices[0]}`, `${m.root}/boot ${m.devices[1]}`].sort());
  });

  test("on UEFI (injected firmware dir with efi/) refuses without a boot filesystem, and warns when boot is not vfat", async () => {
    machine = await createMachine();
    const m = machine;
    const firmware = join(m.dir, "firmware");
    mkdirSync(join(firmware, "efi"), { recursive: true });
    await m.disk("ext4", m.labels.root);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", dryRun: true, paths: { firmware } })));
    expect([error.exitCode, error.code]).toEqual([2, "E_NO_BOOT"]);
    await m.disk("ext4", m.labels.boot);
    const plan = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", dryRun: true, paths: { firmware } }));
    expect(plan.uefi).toBe(true);
    expect(plan.warnings.join("\n")).toContain("not vfat");
    expect(plan.steps.map((s) => s.id)).toContain("mount-boot");
  });

  test("refuses a host the flake does not define, naming the hosts nix eval found (exit 2)", async () => {
    machine = await createMachine({ hosts: ["NixOS", "Laptop"], hostFiles: false });
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const ok = await withPath(m.bin, () => install(machineFlk(m), { host: "Laptop", dryRun: true }));
    expect(ok.flake).toBe(`${m.site}#Laptop`);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOs", dryRun: true })));
    expect([error.exitCode, error.code]).toEqual([2, "E_UNKNOWN_HOST"]);
    expect(error.message).toContain("Did you mean `NixOS`?");
    expect(error.message).toContain("Laptop");
  });

  test("refuses when nixos-install is not on PATH (exit 2)", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const error = await refusal(() => withPath(join(m.dir, "empty"), () => install(machineFlk(m), { host: "NixOS" })));
    expect([error.exitCode, error.code]).toEqual([2, "E_NO_NIXOS_INSTALL"]);
    expect(await m.mounted()).toEqual([]);
  });

  test("a failing stand-in nixos-install is exit 1 naming the step, with the undo command; the mounts stay for inspection", async () => {
    const m = await fullMachine();
    m.failNextInstall(7);
    const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m), { host: "NixOS" })));
    expect([error.exitCode, error.code]).toEqual([1, "E_STEP_FAILED"]);
    expect(error.message).toContain("'nixos-install' failed (exit 7)");
    expect(error.message).toContain("flk install --undo");
    expect(error.message).toContain(`umount ${m.root}/boot; umount ${m.root}`);
    expect((await m.mounted()).sort()).toEqual([m.root, `${m.root}/boot`]);
  });

  test("on a live installer (os-release VARIANT_ID=installer) the store overlay is planned by default; --no-store-overlay drops it", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const osRelease = join(m.dir, "os-release");
    writeFileSync(osRelease, 'NAME=NixOS\nVARIANT_ID=installer\n');
    const live = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", dryRun: true, paths: { osRelease } }));
    const overlay = live.steps.find((s) => s.id === "store-overlay")!;
    expect(overlay.argv).toEqual(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=/nix/store,upperdir=${m.root}/tmpstore/store,workdir=${m.root}/tmpstore/work`, "/nix/store"]);
    expect(live.steps.map((s) => s.id).indexOf("store-overlay")).toBeLessThan(live.steps.map((s) => s.id).indexOf("nixos-install"));
    const off = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", dryRun: true, paths: { osRelease }, storeOverlay: false }));
    expect(off.steps.map((s) => s.id)).not.toContain("store-overlay");
    const debian = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", dryRun: true }));
    expect(debian.storeOverlay).toBe(false);
    expect(await m.mounted()).toEqual([]);
  });

  test("on a live installer with no site checked out, installs from the ISO's flake copy (liveFlake)", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const osRelease = join(m.dir, "os-release");
    writeFileSync(osRelease, 'VARIANT_ID="installer"\n');
    // Run from / (no flake.nix above it): the site is not found, the live copy is used.
    const flk = machineFlk(m, [], { liveFlake: m.site }, "/");
    const plan = await withPath(m.bin, () => install(flk, { host: "NixOS", dryRun: true, paths: { osRelease }, storeOverlay: false }));
    expect(plan.flake).toBe(`${m.site}#NixOS`);
  });

  test("[installer] root is resolved first: `/.` and `//` are / and refused (exit 2) before anything is mounted", async () => {
    const m = await fullMachine();
    for (const root of ["/.", "//", `${m.dir}/../../`]) {
      const error = await refusal(() => withPath(m.bin, () => install(machineFlk(m, [], { root }), { host: "NixOS" })));
      expect([root, error.exitCode, error.code]).toEqual([root, 2, root.includes("..") ? "E_ROOT_PATH" : "E_ROOT_PATH"]);
      expect(error.message).toContain("Nothing was mounted or changed");
    }
    expect(await m.mounted()).toEqual([]);
    expect(await m.swapping()).toEqual([]);
    expect(m.calls()).toEqual([]);
  });

  test("a symlinked root is installed at its target, and --undo with whitespace in root follows its own advice and leaves nothing mounted", async () => {
    const m = await fullMachine();
    const real = join(m.dir, "my root");
    mkdirSync(real);
    symlinkSync(real, join(m.dir, "link"));
    const flk = machineFlk(m, [], { root: join(m.dir, "link") });
    const report = await withPath(m.bin, () => install(flk, { host: "NixOS" }));
    expect(report.root).toBe(real);
    expect((await m.mounted()).sort()).toEqual([real, `${real}/boot`]);
    const undone = await withPath(m.bin, () => install(machineFlk(m, [], { root: real }), { undo: true }));
    expect(undone.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "mount-boot", "swapon"]);
    expect(await m.mounted()).toEqual([]);
  });
});
