/**
 * The preflight: judge the probed facts before anything is mounted or run.
 * Every refusal is exit 2 with what was found, that nothing was touched,
 * and the fix.
 */
import { FlkError, didYouMean, providerOf } from "../../core/index.ts";
import type { DeviceFact, Facts } from "./probe.ts";

/** What the preflight is judging for. */
export interface PreflightInput {
  facts: Facts;
  /** role → label from flk.toml `[installer] labels`. */
  labels: Record<string, string>;
  root: string;
  host?: string;
  /** Where the probe ran, for messages: `this machine` or `nixos@fe80::47%eth0`. */
  where: string;
  storeOverlay: boolean;
  /** `--undo` needs only the labels it can find; it refuses nothing else. */
  undo?: boolean;
  /** `--dry-run` mounts nothing, so it does not need root. */
  dryRun?: boolean;
}

/** A filesystem the plan will use. */
export interface Resolved extends DeviceFact {
  role: string;
  label: string;
}

/** The verdict: devices by role, and warnings that do not stop the install. */
export interface Preflight {
  devices: Partial<Record<"root" | "boot" | "swap", Resolved>>;
  uefi: boolean;
  warnings: string[];
}

const NOTHING = "Nothing was mounted or changed.";

/** Judge the facts; throws FlkError (exit 2) on the first refusal. */
export function preflight(input: PreflightInput): Preflight {
  const { facts } = input;
  checkRootPath(input.root, input.storeOverlay);
  // First: without root, blkid cannot read labels and every later message would mislead.
  if (facts.uid !== 0 && !input.dryRun && !input.undo)
    throw new FlkError(`flk install must run as root on ${input.where} (mounting needs it). ${NOTHING} Run it with sudo, or use --dry-run to see the plan.`, "E_NOT_ROOT");
  const devices: Preflight["devices"] = {};
  for (const role of Object.keys(input.labels)) {
    const found = resolveLabel(input, role);
    if (found) devices[role as keyof Preflight["devices"]] = found;
  }
  const warnings: string[] = [];
  if (!input.undo) {
    if (!devices.root) throw missingLabel(input, "root");
    if (facts.uefi) checkUefiBoot(input, devices.boot, warnings);
    checkFlake(input);
    if (!facts.nixosInstall)
      throw new FlkError(`\`nixos-install\` is not on PATH on ${input.where}. ${NOTHING} Run flk install on ${providerOf("nixos-install")}, or install over ssh with --target nixos@ADDRESS.`, "E_NO_NIXOS_INSTALL");
    checkMounted(input, devices.root!, input.root);
    if (devices.boot) checkMounted(input, devices.boot, `${input.root}/boot`);
    if (!devices.swap && input.labels.swap) warnings.push(`no filesystem labelled '${input.labels.swap}' for swap: installing without swap.`);
  }
  return { devices, uefi: facts.uefi, warnings };
}

function checkRootPath(root: string, storeOverlay: boolean): void {
  if (!root.startsWith("/") || root === "/" || root.split("/").includes(".."))
    throw new FlkError(`[installer] root: expected an absolute directory other than / like "/mnt", got '${root}'. ${NOTHING}`, "E_ROOT_PATH");
  // overlayfs splits its options at ',' and lowerdir lists at ':'.
  if (storeOverlay && /[,:\s]/.test(root))
    throw new FlkError(`[installer] root '${root}' holds ',', ':' or whitespace, which overlayfs options cannot carry. ${NOTHING} Use a plain path like "/mnt", or --no-store-overlay.`, "E_ROOT_PATH");
}

function resolveLabel(input: PreflightInput, role: string): Resolved | undefined {
  const fact = input.facts.labels[role];
  const label = input.labels[role]!;
  if (!fact || fact.devices.length === 0) return undefined;
  if (fact.devices.length > 1) {
    const paths = fact.devices.map((d) => d.path);
    throw new FlkError(
      `the label '${label}' (${role}) is on ${paths.length} devices on ${input.where}: ${paths.join(", ")}. flk cannot tell which one you mean. ${NOTHING} ` +
        `Relabel the one you do not want (ext4: \`e2label ${paths[paths.length - 1]} old-${label}\`; swap: \`swaplabel -L old-${label} DEVICE\`; vfat: \`fatlabel DEVICE OLD\`), or set [installer] labels.${role} in flk.toml.`,
      "E_LABEL_DUPLICATE",
    );
  }
  // by-label (udev) is what the installed system will use; blkid -L picks the first device.
  const device = fact.devices[0]!;
  return { ...device, role, label };
}

function missingLabel(input: PreflightInput, role: string): FlkError {
  const label = input.labels[role]!;
  const how = input.facts.byLabel ? "/dev/disk/by-label and blkid" : "blkid (no /dev/disk/by-label here)";
  return new FlkError(
    `no filesystem labelled '${label}' (${role}) on ${input.where} (looked with ${how}). ${NOTHING} ` +
      `Format and label it (\`mkfs.ext4 -L ${label} /dev/sdXN\`, or \`e2label /dev/sdXN ${label}\` for an existing ext4), or set [installer] labels.${role} in flk.toml to the label you used.`,
    "E_LABEL_MISSING",
  );
}

function checkUefiBoot(input: PreflightInput, boot: Resolved | undefined, warnings: string[]): void {
  const label = input.labels.boot ?? "boot";
  if (!boot)
    throw new FlkError(
      `${input.where} booted with UEFI, which needs an EFI system partition at ${input.root}/boot, but no filesystem is labelled '${label}'. ${NOTHING} ` +
        `Make one: \`mkfs.vfat -F 32 -n ${label} /dev/sdX1\` (type EF00 in the partition table).`,
      "E_NO_BOOT",
    );
  if (boot.type !== "vfat")
    warnings.push(`the boot filesystem '${label}' (${boot.path}) is ${boot.type || "of unknown type"}, not vfat: UEFI firmware reads only FAT, so a real machine will not boot from it.`);
}

function checkFlake(input: PreflightInput): void {
  const { flake } = input.facts;
  if (!flake.present)
    throw new FlkError(`there is no flake.nix in ${flake.dir} on ${input.where}. ${NOTHING} Run flk inside your site (the directory with flake.nix), pass --site DIR, or on the live installer keep the copy at /iso/devos.`, "E_NO_FLAKE");
  const host = input.host!;
  if (flake.hostFile || flake.hosts?.includes(host)) return;
  if (flake.hosts)
    throw new FlkError(
      `${flake.dir} has no nixosConfigurations.${host}.${didYouMean(host, flake.hosts)} Hosts: ${flake.hosts.join(", ") || "(none)"}. ${NOTHING}`,
      "E_UNKNOWN_HOST",
    );
  throw new FlkError(
    `cannot tell whether ${flake.dir} defines nixosConfigurations.${host}: there is no hosts/${host}.nix and \`nix eval\` failed${flake.evalError ? `: ${flake.evalError}` : " (no nix on PATH)"}. ${NOTHING}`,
    "E_UNKNOWN_HOST",
  );
}

/** The target may already be mounted, but only from the expected device (a second run is fine). */
function checkMounted(input: PreflightInput, device: Resolved, mountpoint: string): void {
  const here = input.facts.mounts.filter((m) => m.mountpoint === mountpoint);
  const top = here[here.length - 1];
  if (!top || top.majmin === device.majmin) return;
  throw new FlkError(
    `${mountpoint} on ${input.where} is already mounted from ${top.source} (${top.majmin}), not from the filesystem labelled '${device.label}' (${device.path}, ${device.majmin}). ${NOTHING} ` +
      `Unmount it first (\`umount ${mountpoint}\`) or set [installer] root to another directory.`,
    "E_ROOT_MOUNTED",
  );
}
