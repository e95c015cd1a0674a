/**
 * The install plan: the installer's base steps (devos's bootstrapping
 * guide, made checkable), then the installer's own `installSteps` waterfall
 * (hooks.ts) so another plugin can insert its steps by id. The base plan is the waterfall's
 * initial value rather than a tap, so it is in place whatever order the
 * plugins are applied in.
 */
import { FlkError, type Flk } from "../../core/index.ts";
import { installerHooks, type InstallContext, type Step } from "./hooks.ts";
import type { Preflight, Resolved } from "./preflight.ts";

/** Step ids the protocol can carry in a marker line. */
const STEP_ID = /^[a-z0-9][a-z0-9-]*$/;

/**
 * The steps of devos's bootstrapping guide (devos.divnix.com/start/bootstrapping):
 * mount root (and /boot on UEFI), swapon, overlay the live system's tmpfs
 * store onto the target disk, nixos-install --flake. Each mount carries an
 * `unless` that holds only when the same device is already there, and the
 * `undo` that `--undo` runs when it does.
 */
export function baseSteps(ctx: InstallContext, found: Preflight, store: string, more: { system?: string; beforeInstall?: Step[] } = {}): Step[] {
  const { root } = ctx;
  const steps: Step[] = [{ id: "mkdir-root", title: `create the mount point ${root}`, argv: ["mkdir", "-p", root], unless: ["test", "-d", root] }];
  if (found.devices.root) steps.push(mountStep("mount-root", found.devices.root, root));
  if (found.devices.boot) {
    steps.push({ id: "mkdir-boot", title: `create ${root}/boot on the target`, argv: ["mkdir", "-p", `${root}/boot`], unless: ["test", "-d", `${root}/boot`] });
    steps.push(mountStep("mount-boot", found.devices.boot, `${root}/boot`));
  }
  if (found.devices.swap) steps.push(swapStep(found.devices.swap));
  if (ctx.storeOverlay) steps.push(...overlaySteps(root, store));
  steps.push(...(more.beforeInstall ?? []));
  steps.push({ id: "nixos-install", title: more.system ? `install ${more.system} (the system the stick carries)` : `install ${ctx.flake}`, argv: nixosInstallArgv(ctx, more.system) });
  return steps;
}

function mountStep(id: string, device: Resolved, mountpoint: string): Step {
  return {
    id,
    title: `mount ${device.label} (${device.path}) at ${mountpoint}`,
    argv: ["mount", device.path, mountpoint],
    // findmnt -S accepts maj:min, which does not care which /dev name mounted it; a partition --disk is about to make has only its path.
    unless: ["findmnt", "-rn", "-M", mountpoint, "-S", device.majmin || device.path],
    undo: ["umount", mountpoint],
  };
}

function swapStep(device: Resolved): Step {
  return {
    id: "swapon",
    title: `swap on ${device.label} (${device.path})`,
    argv: ["swapon", device.path],
    unless: ["sh", "-c", 'swapon --show=NAME --noheadings --raw | grep -Fqx -- "$1"', "swap-check", device.path],
    undo: ["swapoff", device.path],
  };
}

/**
 * The live system's /nix/store is a tmpfs in RAM; an overlay whose upper
 * layer is on the target disk lets nixos-install fetch and build without
 * filling it (devos bootstrapping guide; upper and work must share a filesystem).
 */
function overlaySteps(root: string, store: string): Step[] {
  const [upper, work] = [`${root}/tmpstore/store`, `${root}/tmpstore/work`];
  return [
    { id: "store-dirs", title: `create ${root}/tmpstore/{store,work}`, argv: ["mkdir", "-p", upper, work], unless: ["test", "-d", upper, "-a", "-d", work] },
    {
      id: "store-overlay",
      title: `overlay ${store} onto ${root}/tmpstore`,
      argv: ["mount", "-t", "overlay", "overlay", "-o", `lowerdir=${store},upperdir=${upper},workdir=${work}`, store],
      unless: ["findmnt", "-rn", "-M", store, "-t", "overlay", "-O", `upperdir=${upper}`],
      undo: ["umount", store],
    },
  ];
}

/**
 * `nixos-install --flake SITE#HOST` (or `--system TOPLEVEL`: no evaluation),
 * `--root` when not the default /mnt, `--impure` if asked, then `-- ARGS` unchanged.
 */
export function nixosInstallArgv(ctx: InstallContext, system?: string): string[] {
  return ["nixos-install", ...(system ? ["--system", system] : ["--flake", ctx.flake]), ...(ctx.root === "/mnt" ? [] : ["--root", ctx.root]), ...(ctx.impure ? ["--impure"] : []), ...ctx.extraArgs];
}

/** Run the `installSteps` waterfall over the base steps and check what the taps returned. */
export async function planSteps(flk: Flk, ctx: InstallContext, base: Step[]): Promise<Step[]> {
  const steps = await installerHooks(flk).installSteps.promise(base, ctx);
  const seen = new Set<string>();
  for (const step of steps) {
    if (!STEP_ID.test(step.id ?? "") || seen.has(step.id))
      throw new FlkError(`internal: an installSteps tap returned a step with ${seen.has(step.id) ? "a duplicate" : "an invalid"} id '${step.id}' (lowercase words joined by '-', unique)`, "E_STEP_ID", 1);
    if (!Array.isArray(step.argv) || step.argv.length === 0)
      throw new FlkError(`internal: the install step '${step.id}' has no command`, "E_STEP_ARGV", 1);
    seen.add(step.id);
  }
  return steps;
}
