/**
 * The plan: base steps from the preflight verdict, the `installSteps`
 * waterfall (hook order by recording taps), and the preflight's judgement
 * of facts a live installer could report.
 */
import { describe, expect, test } from "bun:test";
import { definePlugin } from "../../../core/index.ts";
import { installerHooks, type InstallContext, type Step } from "../../../plugins/installer/hooks.ts";
import { testFlk } from "../../helpers/flk.ts";
import installer from "../../../plugins/installer/index.ts";
import { baseSteps, nixosInstallArgv, planSteps } from "../../../plugins/installer/plan.ts";
import { preflight, type Preflight } from "../../../plugins/installer/preflight.ts";
import type { Facts } from "../../../plugins/installer/probe.ts";

const ctx: InstallContext = { host: "NixOS", flake: "/iso/devos#NixOS", root: "/mnt", labels: { root: "nixos", boot: "boot", swap: "swap" }, uefi: true, storeOverlay: true, impure: false, extraArgs: [] };
const found: Preflight = {
  uefi: true,
  warnings: [],
  devices: {
    root: { role: "root", label: "nixos", path: "/dev/sda2", majmin: "8:2", type: "ext4" },
    boot: { role: "boot", label: "boot", path: "/dev/sda1", majmin: "8:1", type: "vfat" },
    swap: { role: "swap", label: "swap", path: "/dev/sda3", majmin: "8:3", type: "swap" },
  },
};

describe("base plan", () => {
  test("follows devos's bootstrapping guide: root, /boot, swap, store overlay, then nixos-install --flake", () => {
    const steps = baseSteps(ctx, found, "/nix/store");
    expect(steps.map((s) => s.id)).toEqual(["mkdir-root", "mount-root", "mkdir-boot", "mount-boot", "swapon", "store-dirs", "store-overlay", "nixos-install"]);
    expect(steps.find((s) => s.id === "mount-boot")!.argv).toEqual(["mount", "/dev/sda1", "/mnt/boot"]);
    expect(steps.find((s) => s.id === "store-dirs")!.argv).toEqual(["mkdir", "-p", "/mnt/tmpstore/store", "/mnt/tmpstore/work"]);
    expect(steps.find((s) => s.id === "store-overlay")!.argv).toEqual(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=/nix/store,upperdir=/mnt/tmpstore/store,workdir=/mnt/tmpstore/work", "/nix/store"]);
    expect(steps.at(-1)!.argv).toEqual(["nixos-install", "--flake", "/iso/devos#NixOS"]);
  });

  test("nixos-install gets --root only off /mnt, --impure when asked, and -- ARGS unchanged and last", () => {
    expect(nixosInstallArgv({ ...ctx, root: "/target", impure: true, extraArgs: ["--no-root-passwd", "--option", "cores", "0", "--", "x y"] })).toEqual([
      "nixos-install", "--flake", "/iso/devos#NixOS", "--root", "/target", "--impure", "--no-root-passwd", "--option", "cores", "0", "--", "x y",
    ]);
  });
});

describe("installSteps waterfall", () => {
  const recorder = (name: string, order: string[], seen: string[][]) =>
    definePlugin({
      name,
      description: `test only: records ${name}'s installSteps call`,
      options: {},
      apply(flk) {
        installerHooks(flk).installSteps.tapPromise(name, async (steps, install) => {
          order.push(`${name}:${install.host}`);
          seen.push(steps.map((s) => s.id));
          const at = steps.findIndex((s) => s.id === "nixos-install");
          const mine: Step = { id: `${name}-step`, title: name, argv: ["true"] };
          return [...steps.slice(0, at), mine, ...steps.slice(at)];
        });
      },
    });

  test("taps run in registration order, each seeing the base plan and the earlier taps' steps, whatever the plugin order", async () => {
    const [order, seen] = [[] as string[], [] as string[][]];
    const flk = testFlk({ plugins: [recorder("tap-a", order, seen), installer, recorder("tap-b", order, seen)], cwd: "/" });
    const steps = await planSteps(flk, ctx, baseSteps(ctx, found, "/nix/store"));
    expect(order).toEqual(["tap-a:NixOS", "tap-b:NixOS"]);
    expect(seen[0]).toContain("nixos-install");
    expect(seen[1]).toContain("tap-a-step");
    expect(steps.map((s) => s.id).slice(-3)).toEqual(["tap-a-step", "tap-b-step", "nixos-install"]);
  });

  test("a tap returning a step id the script protocol cannot carry is an error naming it", async () => {
    const bad = definePlugin({ name: "bad-tap", description: "test only", options: {}, apply(flk) {
      installerHooks(flk).installSteps.tap("bad-tap", (steps) => [...steps, { id: "has space", title: "x", argv: ["true"] }]);
    } });
    const error = await planSteps(testFlk({ plugins: [bad, installer], cwd: "/" }), ctx, []).catch((e) => e);
    expect(error.message).toContain("'has space'");
  });
});

describe("preflight", () => {
  const facts = (over: Partial<Facts> = {}): Facts => ({
    byLabel: true, uefi: false, variant: "installer", nixosInstall: "/run/current-system/sw/bin/nixos-install", uid: 0, swaps: [], rootReal: "/mnt", generateConfig: true, facter: false, liveRecordPath: "", toplevelPresent: false, flakeHash: "",
    flake: { dir: "/iso/devos", present: true, hostFile: true },
    labels: {
      root: { label: "nixos", devices: [{ path: "/dev/sda2", majmin: "8:2", type: "ext4" }] },
      boot: { label: "boot", devices: [{ path: "/dev/sda1", majmin: "8:1", type: "vfat" }] },
      swap: { label: "swap", devices: [] },
    },
    mounts: [],
    ...over,
  });
  const input = (f: Facts) => ({ facts: f, labels: ctx.labels, root: "/mnt", host: "NixOS", where: "nixos@fe80::47%eth0", storeOverlay: true });
  const codeOf = (f: Facts, extra: object = {}) => { try { preflight({ ...input(f), ...extra }); return "ok"; } catch (e) { return (e as { code: string }).code; } };

  test("accepts a root mounted from the expected device (second run) and refuses any other", () => {
    const mounted = (majmin: string) => facts({ mounts: [{ majmin, mountpoint: "/mnt", fstype: "ext4", source: "/dev/x", superOptions: "rw" }] });
    expect(codeOf(mounted("8:2"))).toBe("ok");
    expect(codeOf(mounted("8:5"))).toBe("E_ROOT_MOUNTED");
  });

  describe("a root or boot device mounted anywhere but where the plan puts it", () => {
    const mount = (majmin: string, mountpoint: string, source = "/dev/x") => ({ majmin, mountpoint, fstype: "ext4", source, superOptions: "rw" });
    const errorOf = (f: Facts, extra: object = {}) => { try { preflight({ ...input(f), ...extra }); return undefined; } catch (e) { return e as { code: string; exitCode: number; message: string }; } };

    test("refuses the running system's root (the root label mounted at /), naming it and the fix", () => {
      const error = errorOf(facts({ mounts: [mount("8:2", "/", "/dev/sda2"), mount("8:2", "/nix/store", "/dev/sda2")] }))!;
      expect([error.code, error.exitCode]).toEqual(["E_DEVICE_IN_USE", 2]);
      expect(error.message).toContain("mounted at /, /nix/store");
      expect(error.message).toContain("running system");
      expect(error.message).toContain("[installer] labels.root");
      expect(error.message).toContain("Nothing was mounted or changed.");
    });

    test("refuses a root mounted at /srv, saying to unmount it", () => {
      const error = errorOf(facts({ mounts: [mount("8:2", "/srv")] }))!;
      expect(error.code).toBe("E_DEVICE_IN_USE");
      expect(error.message).toContain("`umount /srv`");
    });

    test("refuses a boot device mounted at /boot", () => {
      const error = errorOf(facts({ uefi: true, mounts: [mount("8:1", "/boot", "/dev/sda1")] }))!;
      expect(error.code).toBe("E_DEVICE_IN_USE");
      expect(error.message).toContain("'boot' (boot: /dev/sda1, 8:1)");
    });

    test("refuses a btrfs root at / although mountinfo shows its subvolume's anonymous major:minor", () => {
      expect(codeOf(facts({ mounts: [mount("0:31", "/", "/dev/sda2")] }))).toBe("E_DEVICE_IN_USE");
    });

    test("accepts a second run (root at ROOT, boot at ROOT/boot, also with a trailing slash on ROOT), and --undo refuses nothing of it", () => {
      const second = facts({ uefi: true, mounts: [mount("8:2", "/mnt"), mount("8:1", "/mnt/boot")] });
      expect(codeOf(second)).toBe("ok");
      expect(codeOf(second, { root: "/mnt/" })).toBe("ok");
      expect(codeOf(facts({ mounts: [mount("8:2", "/")] }), { undo: true })).toBe("ok");
    });
  });

  describe("labels by udev's /dev/disk/by-label link, checked against the blkid scan", () => {
    const withLink = (path: string, majmin: string, devices = [{ path: "/dev/mapper/vg-root", majmin: "254:0", type: "ext4" }], over: Partial<Facts> = {}) => {
      const f = facts(over);
      f.labels.root = { label: "nixos", primary: { path, majmin }, devices };
      return f;
    };

    test("when they agree (same major:minor) the device is named as the link resolves", () => {
      const verdict = preflight(input(withLink("/dev/dm-0", "254:0")));
      expect(verdict.devices.root).toMatchObject({ path: "/dev/dm-0", majmin: "254:0", type: "ext4" });
      expect(verdict.warnings.join("\n")).not.toContain("by-label");
    });

    test("when the link points at a device blkid does not find the label on, blkid wins and the stale link is a warning", () => {
      const verdict = preflight(input(withLink("/dev/sdb1", "8:17")));
      expect(verdict.devices.root!.path).toBe("/dev/mapper/vg-root");
      expect(verdict.warnings.join("\n")).toContain("/dev/disk/by-label/nixos points to /dev/sdb1 (8:17)");
      expect(verdict.warnings.join("\n")).toContain("udevadm trigger");
    });

    test("a link to a device no longer carrying the label does not make the label exist", () => {
      const error = (() => { try { preflight(input(withLink("/dev/sdb1", "8:17", []))); } catch (e) { return e as Error & { code: string }; } })()!;
      expect(error.code).toBe("E_LABEL_MISSING");
      expect(error.message).toContain("link is stale");
    });

    test("without root (blkid reads nothing) --dry-run follows the link alone", () => {
      const verdict = preflight({ ...input(withLink("/dev/sda2", "8:2", [], { uid: 1000 })), dryRun: true });
      expect(verdict.devices.root).toMatchObject({ path: "/dev/sda2", majmin: "8:2", type: "" });
    });
  });

  test("says why: no nixos-install, not root, no flake, unknown host, bad root path", () => {
    expect(codeOf(facts({ nixosInstall: "" }))).toBe("E_NO_NIXOS_INSTALL");
    expect(codeOf(facts({ uid: 1000 }))).toBe("E_NOT_ROOT");
    // Without root blkid sees no labels: say "use sudo", not "no label".
    expect(codeOf(facts({ uid: 1000, labels: {} }))).toBe("E_NOT_ROOT");
    expect(codeOf(facts({ uid: 1000 }), { dryRun: true })).toBe("ok");
    expect(codeOf(facts({ flake: { dir: "/iso/devos", present: false, hostFile: false } }))).toBe("E_NO_FLAKE");
    expect(codeOf(facts({ flake: { dir: "/iso/devos", present: true, hostFile: false, hosts: ["Other"] } }))).toBe("E_UNKNOWN_HOST");
    expect(codeOf(facts(), { root: "/mnt,x" })).toBe("E_ROOT_PATH");
    expect(codeOf(facts(), { root: "/" })).toBe("E_ROOT_PATH");
    // The resolved root decides: `/.` and `//` resolve to /, and a directory the running system mounts is refused too.
    expect(codeOf(facts(), { root: "/", configuredRoot: "/." })).toBe("E_ROOT_PATH");
    expect(codeOf(facts(), { root: "/boot" })).toBe("E_ROOT_PATH");
    expect(codeOf(facts(), { root: "/nix/store", undo: true })).toBe("E_ROOT_PATH");
  });

  test("UEFI with a vfat boot passes without warnings; without swap it warns and goes on", () => {
    const verdict = preflight(input(facts({ uefi: true })));
    expect(verdict.devices.boot!.type).toBe("vfat");
    expect(verdict.warnings).toEqual([`no filesystem labelled 'swap' for swap: installing without swap.`]);
  });

  test("undo refuses nothing but ambiguity", () => {
    expect(codeOf(facts({ labels: {}, nixosInstall: "", uid: 5 }), { undo: true })).toBe("ok");
    const twice = facts();
    twice.labels.root!.devices.push({ path: "/dev/sdb2", majmin: "8:18", type: "ext4" });
    expect(codeOf(twice, { undo: true })).toBe("E_LABEL_DUPLICATE");
  });
});
