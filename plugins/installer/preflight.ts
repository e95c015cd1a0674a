/**
 * The preflight: judge the probed facts before anything is mounted or run.
 * Every refusal is exit 2 with what was found, that nothing was touched,
 * and the fix.
 */
import { posix } from "node:path";
import { FlkError, didYouMean, providerOf } from "../../core/index.ts";
import type { DeviceFact, Facts } from "./probe.ts";
import type { Layout } from "./layout.ts";
import { shQuote } from "./script.ts";

/** What the preflight is judging for. */
export interface PreflightInput {
  facts: Facts;
  /** role → label from flk.toml `[installer] labels`. */
  labels: Record<string, string>;
  /** The target root, resolved on the machine being installed (realpath). */
  root: string;
  /** `[installer] root` as configured, for messages when it differs. */
  configuredRoot?: string;
  host?: string;
  /** Where the probe ran, for messages: `this machine` or `nixos@fe80::47%eth0`. */
  where: string;
  storeOverlay: boolean;
  /** `--undo` needs only the labels it can find; it refuses nothing else. */
  undo?: boolean;
  /** `--dry-run` mounts nothing, so it does not need root, nor nixos-install on this machine. */
  dryRun?: boolean;
  /** `--disk`: the filesystems come from this layout (made by the script), not from labels found now. */
  layout?: Layout;
}

/** A filesystem the plan will use. */
export interface Resolved extends DeviceFact {
  role: string;
  label: string;
  /** Made by the `--disk` step in the same script (no label to guard before it runs). */
  fromDisk?: boolean;
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
  checkRootPath(input, input.storeOverlay);
  // First: without root, blkid cannot read labels and every later message would mislead.
  if (facts.uid !== 0 && !input.dryRun && !input.undo)
    throw new FlkError(`flk install must run as root on ${input.where} (mounting needs it). ${NOTHING} Run it with sudo, or use --dry-run to see the plan.`, "E_NOT_ROOT");
  const devices: Preflight["devices"] = {};
  const warnings: string[] = [];
  if (input.layout && !input.undo) return fromLayout(input, input.layout);
  for (const role of Object.keys(input.labels)) {
    const found = resolveLabel(input, role, warnings);
    if (found) devices[role as keyof Preflight["devices"]] = found;
  }
  if (!input.undo) {
    // A workstation's --dry-run: without root blkid reads no labels; plan with the label's udev name and say so.
    if (!devices.root && input.dryRun && facts.uid !== 0) {
      for (const role of ["root", "boot"] as const) if (input.labels[role] && !devices[role] && (role === "root" || facts.uefi)) devices[role] = byLabelPlaceholder(input, role);
      warnings.push(`reading labels needs root: the plan names the filesystems by label (/dev/disk/by-label/…); run it as root on the machine being installed.`);
    }
    if (!devices.root) throw missingLabel(input, "root");
    if (facts.uefi) checkUefiBoot(input, devices.boot, warnings);
    checkFlake(input);
    if (!facts.nixosInstall && !input.dryRun)
      throw new FlkError(`\`nixos-install\` is not on PATH on ${input.where}. ${NOTHING} Run flk install on ${providerOf("nixos-install")}, or install over ssh with --target nixos@ADDRESS.`, "E_NO_NIXOS_INSTALL");
    if (!facts.nixosInstall) warnings.push(`nixos-install is not on PATH on ${input.where}: the plan is for the live system (the NixOS installer ships it).`);
    checkInUse(input, devices.root!, input.root);
    if (devices.boot) checkInUse(input, devices.boot, `${input.root}/boot`);
    checkMounted(input, devices.root!, input.root);
    if (devices.boot) checkMounted(input, devices.boot, `${input.root}/boot`);
    if (!devices.swap && input.labels.swap) warnings.push(`no filesystem labelled '${input.labels.swap}' for swap: installing without swap.`);
  } else if (facts.uid !== 0 && Object.values(facts.labels).every((l) => l.devices.length === 0))
    warnings.push("reading labels needs root: without it flk sees none of them, so --undo finds nothing to undo. Run it with sudo.");
  return { devices, uefi: facts.uefi, warnings };
}

/** A filesystem named by its udev label link, for a plan made without root (nothing is mounted from it). */
function byLabelPlaceholder(input: PreflightInput, role: "root" | "boot"): Resolved {
  const label = input.labels[role]!;
  return { path: `/dev/disk/by-label/${label}`, majmin: "", type: role === "boot" ? "vfat" : "ext4", role, label };
}

/**
 * \`--disk\`: the devices are the layout's partitions. A label the layout
 * uses must not be on any other device already (after formatting the
 * installed system would find two), and nothing may be mounted at root.
 */
function fromLayout(input: PreflightInput, layout: Layout): Preflight {
  const devices: Preflight["devices"] = {};
  const mine = new RegExp(`^${layout.device.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}p?\\d+$`);
  for (const p of layout.partitions) {
    const elsewhere = (input.facts.labels[p.role]?.devices ?? []).filter((d) => d.path !== layout.device && !mine.test(d.path));
    if (elsewhere.length)
      throw new FlkError(
        `the label '${p.label}' (${p.role}) is already on ${elsewhere.map((d) => d.path).join(", ")} on ${input.where}; after formatting ${layout.device} two filesystems would carry it and the installed system could mount the wrong one. ${NOTHING} Relabel that one, or set [installer] labels.${p.role} in flk.toml.`,
        "E_LABEL_DUPLICATE",
      );
    devices[p.role] = { path: p.node, majmin: "", type: p.fs, role: p.role, label: p.label, fromDisk: true };
  }
  checkFlake(input);
  if (!input.facts.nixosInstall && !input.dryRun)
    throw new FlkError(`\`nixos-install\` is not on PATH on ${input.where}. ${NOTHING} Run flk install on ${providerOf("nixos-install")}, or install over ssh with --target nixos@ADDRESS.`, "E_NO_NIXOS_INSTALL");
  const here = input.facts.mounts.filter((m) => normalizePath(m.mountpoint) === normalizePath(input.root) || normalizePath(m.mountpoint).startsWith(normalizePath(input.root) + "/"));
  if (here.length)
    throw new FlkError(`${here[0]!.mountpoint} on ${input.where} is mounted (from ${here[0]!.source}), and --disk makes new filesystems for ${input.root}. ${NOTHING} Unmount it first (\`umount -R ${shQuote(input.root)}\`).`, "E_ROOT_MOUNTED");
  return { devices, uefi: layout.boot === "uefi", warnings: [] };
}

function checkRootPath(input: PreflightInput, storeOverlay: boolean): void {
  // Judged as the kernel will see it: `/x/../mnt2`, `/mnt/`, `//mnt` are /mnt2 and /mnt (realpath on the probed side already did this when it could).
  const root = input.root.startsWith("/") ? posix.normalize(input.root).replace(/(.)\/$/, "$1") : input.root;
  const shown = input.configuredRoot && input.configuredRoot !== root ? `'${input.configuredRoot}' (which is ${root})` : `'${root}'`;
  if (!root.startsWith("/") || root === "/")
    throw new FlkError(`[installer] root: expected an absolute directory other than / like "/mnt", got ${shown}. ${NOTHING} Set [installer] root = "/mnt" in flk.toml (the NixOS manual's root).`, "E_ROOT_PATH");
  // A directory of the running system is never a target: mounting over it hides it (and nixos-install would write there); --undo would unmount the system's own.
  if (SYSTEM_DIRS.includes(root) || SYSTEM_TREES.some((t) => root.startsWith(`${t}/`)))
    throw new FlkError(`[installer] root ${shown} is a directory of the running system: flk would mount the target over it. ${NOTHING} Set [installer] root = "/mnt" in flk.toml (the NixOS manual's root), or another empty directory.`, "E_ROOT_PATH");
  if (storeOverlay && /[,:\s]/.test(root))
    throw new FlkError(`[installer] root ${shown} holds ',', ':' or whitespace, which overlayfs options cannot carry. ${NOTHING} Use a plain path like "/mnt", or --no-store-overlay.`, "E_ROOT_PATH");
}

/** Directories of a running Linux system (FHS, and NixOS's own): never `[installer] root`. */
const SYSTEM_DIRS = [
  "/bin", "/boot", "/boot/efi", "/efi", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/nix", "/nix/store", "/nix/var",
  "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/tmp",
];
/** Kernel and store trees: nothing under them is a place to mount a target. */
const SYSTEM_TREES = ["/dev", "/proc", "/sys", "/nix/store"];

/**
 * One label → one device. The uncached blkid scan is the judge of what
 * carries the label (udev keeps one by-label link per label, so only the scan
 * sees duplicates); udev's link, when it agrees (same major:minor), names the
 * device as the installed system will see it. When they disagree, blkid wins:
 * it read the superblocks just now, while the link is only as fresh as udev's
 * last event for that device: it lags a relabel until udev has processed it,
 * and a write through another node (the whole disk rather than the
 * partition) fires no event for the partition, so a stale link may point at
 * a disk that no longer carries the label.
 */
function resolveLabel(input: PreflightInput, role: string, warnings: string[]): Resolved | undefined {
  const fact = input.facts.labels[role];
  const label = input.labels[role]!;
  if (!fact) return undefined;
  if (fact.devices.length > 1) throw duplicateLabel(input, role, fact.devices.map((d) => d.path));
  const [scanned, link] = [fact.devices[0], fact.primary];
  // Without root blkid cannot open a device and lists none; udev's link (made by root) is then the only witness (--dry-run, --undo).
  if (!scanned) return link && input.facts.uid !== 0 ? { ...link, type: "", role, label } : undefined;
  if (!link || link.majmin === scanned.majmin) return { ...scanned, ...(link ? { path: link.path } : {}), role, label };
  warnings.push(
    `/dev/disk/by-label/${label} points to ${link.path} (${link.majmin}), but blkid finds the label '${label}' on ${scanned.path} (${scanned.majmin}): using ${scanned.path}. ` +
      `udev's link is stale; \`udevadm trigger && udevadm settle\` refreshes it.`,
  );
  return { ...scanned, role, label };
}

function duplicateLabel(input: PreflightInput, role: string, paths: string[]): FlkError {
  const label = input.labels[role]!;
  return new FlkError(
    `the label '${label}' (${role}) is on ${paths.length} devices on ${input.where}: ${paths.join(", ")}. flk cannot tell which one you mean. ${NOTHING} ` +
      `Relabel the one you do not want (ext4: \`e2label ${paths[paths.length - 1]} old-${label}\`; swap: \`swaplabel -L old-${label} DEVICE\`; vfat: \`fatlabel DEVICE OLD\`), or set [installer] labels.${role} in flk.toml.`,
    "E_LABEL_DUPLICATE",
  );
}

function missingLabel(input: PreflightInput, role: string): FlkError {
  const label = input.labels[role]!;
  const how = input.facts.byLabel ? "/dev/disk/by-label and blkid" : "blkid (no /dev/disk/by-label here)";
  const link = input.facts.labels[role]?.primary;
  const stale = link ? `; /dev/disk/by-label/${label} still points to ${link.path}, but blkid finds no such label on it now, so the link is stale` : "";
  return new FlkError(
    `no filesystem labelled '${label}' (${role}) on ${input.where} (looked with ${how}${stale}). ${NOTHING} ` +
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
  if (!flake.present && input.where !== "this machine")
    throw new FlkError(`there is no flake.nix in ${flake.dir} on ${input.where}. ${NOTHING} Is the stick built by \`flk iso\`? It carries the site's copy there. Or set \`[installer] liveFlake\` in flk.toml to where the copy is.`, "E_NO_FLAKE");
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

/** Mount points of the system itself: a labelled device there is the running system's, not a target. */
const SYSTEM_MOUNTS = ["/", "/boot", "/boot/efi", "/efi", "/nix", "/nix/store", "/usr"];

/**
 * The device must not be mounted anywhere but where the plan puts it: on an
 * installed NixOS whose root is labelled `nixos`, `flk install OTHER` would
 * otherwise mount the running root at ROOT and nixos-install into it. The
 * planned place is fine (a second run). Matched by major:minor, or by source
 * for btrfs, whose mountinfo shows an anonymous major:minor per subvolume.
 */
function checkInUse(input: PreflightInput, device: Resolved, planned: string): void {
  const want = normalizePath(planned);
  const elsewhere = input.facts.mounts
    .filter((m) => (m.majmin === device.majmin || m.source === device.path) && normalizePath(m.mountpoint) !== want)
    .map((m) => m.mountpoint);
  if (elsewhere.length === 0) return;
  const at = [...new Set(elsewhere)];
  const system = at.filter((p) => SYSTEM_MOUNTS.includes(p));
  const role = `labels.${device.role}`;
  const fix = system.length
    ? `It belongs to the running system (mounted at ${system.join(", ")}): install from the live installer booted on the target machine, or, to install onto another disk from here, give that disk's filesystem another label and set [installer] ${role} in flk.toml to it.`
    : `Unmount it first (\`${at.map((p) => `umount ${shQuote(p)}`).join("; ")}\`), or, if it is not the disk you mean to install onto, set [installer] ${role} in flk.toml to your target's label.`;
  throw new FlkError(
    `the filesystem labelled '${device.label}' (${device.role}: ${device.path}, ${device.majmin}) is in use on ${input.where}: mounted at ${at.join(", ")}, and flk would mount it at ${want} and install into it. ${NOTHING} ${fix}`,
    "E_DEVICE_IN_USE",
  );
}

/** `/mnt/`, `/mnt//boot` → `/mnt`, `/mnt/boot`, as the kernel writes mount points. */
function normalizePath(path: string): string {
  return path.replace(/\/+/g, "/").replace(/(.)\/$/, "$1");
}
