/**
 * The NixOS manual's partition layout ("Installation → Partitioning and
 * formatting"), as data: the table, the partitions in sectors, the sfdisk
 * script that writes it and the mkfs commands. Pure: it plans from the
 * disk's size, so `--dry-run` shows exactly what would be written, and the
 * same plan runs here or in the script sent to a live installer.
 *
 * UEFI (manual): GPT; partition 1 root (ext4) from 512 MiB up to the swap,
 * partition 2 swap at the end, partition 3 the ESP (FAT32, type
 * EF00/"esp on") in the first 512 MiB. BIOS: MBR; partition 1 root (ext4,
 * boot flag), partition 2 swap at the end. Everything is aligned to 1 MiB,
 * as parted and sfdisk do by default.
 */
import { FlkError, formatBytes } from "../../core/index.ts";

/** The firmware the disk is laid out for. */
export type Boot = "uefi" | "bios";

/** GPT partition type GUIDs (UEFI spec; systemd's Discoverable Partitions Specification). */
export const GPT_TYPES = Object.freeze({
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  swap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
});

/** MBR partition type bytes: 83 Linux, 82 Linux swap. */
export const MBR_TYPES = Object.freeze({ linux: "83", swap: "82" });

/** What a layout is planned from. */
export interface LayoutRequest {
  /** The whole disk, e.g. `/dev/sda`, `/dev/nvme0n1`, `/dev/loop3` (a realpath). */
  device: string;
  /** Size in bytes. */
  size: number;
  /** Logical sector size (sfdisk's unit); 512 unless the disk says otherwise. */
  sectorSize?: number;
  boot: Boot;
  /** Swap size in bytes; 0 or absent: no swap partition. */
  swap?: number;
  /** `[installer] labels`. */
  labels: { root: string; boot: string; swap: string };
}

/** One planned partition. */
export interface Partition {
  /** Partition number in the table (1-based). */
  number: number;
  role: "root" | "boot" | "swap";
  label: string;
  /** The filesystem made on it. */
  fs: "ext4" | "vfat" | "swap";
  /** First sector and length in sectors. */
  start: number;
  sectors: number;
  bytes: number;
  /** GPT type GUID or MBR type byte. */
  type: string;
  /** The node the kernel gives it: `/dev/sda1`, `/dev/nvme0n1p1`. */
  node: string;
}

/** A planned layout; also the `flk disk --json` document (with `mkfs`). */
export interface Layout {
  device: string;
  boot: Boot;
  table: "gpt" | "dos";
  sectorSize: number;
  /** In table order. */
  partitions: Partition[];
  /** The sfdisk(8) input script. */
  sfdisk: string;
  /** One argv per filesystem, in partition order. */
  mkfs: string[][];
}

const MiB = 1024 * 1024;
/** The ESP size the manual uses (512 MB there; MiB here, as sfdisk counts). */
export const ESP_BYTES = 512 * MiB;
/** Below this a root filesystem cannot hold a NixOS system worth installing. */
export const MIN_ROOT_BYTES = 256 * MiB;
/** Filesystem label limits: ext4 and swap 16 bytes, FAT 11 (mkfs.fat -n). */
const LABEL_LIMITS = { ext4: 16, swap: 16, vfat: 11 } as const;

/** Parse `--swap SIZE`: `8G`, `8GiB`, `512M`, `512MiB`, `0`; binary units, whole MiB. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) throw new FlkError(`--swap: expected a size like 8G, 8GiB or 512M (binary units), got '${text}'`, "E_USAGE");
  const unit = { "": 1, K: 1024, M: MiB, G: 1024 * MiB, T: 1024 * 1024 * MiB }[m[2]!.toUpperCase() as "" | "K" | "M" | "G" | "T"];
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes !== 0 && bytes < MiB) throw new FlkError(`--swap: ${text} is less than 1 MiB; give a size like 8G, or leave --swap out for no swap`, "E_USAGE");
  return Math.floor(bytes / MiB) * MiB;
}

/** The node of partition `n` of `disk`: a `p` goes between when the disk's name ends in a digit (nvme0n1p1, loop3p1, mmcblk0p1). */
export function partitionNode(disk: string, n: number): string {
  return `${disk}${/\d$/.test(disk) ? "p" : ""}${n}`;
}

/** Plan the manual's layout for `request`; throws FlkError (exit 2) when it cannot fit or a label cannot be made. */
export function planLayout(request: LayoutRequest): Layout {
  const sectorSize = request.sectorSize ?? 512;
  const swapBytes = request.swap ?? 0;
  const mib = MiB / sectorSize;
  const total = Math.floor(request.size / sectorSize);
  const gpt = request.boot === "uefi";
  // GPT keeps a backup header and entry array (16 KiB) at the end; MBR needs nothing there.
  const end = Math.floor((gpt ? total - 1 - Math.ceil(16384 / sectorSize) : total) / mib) * mib;
  const swapSectors = swapBytes / sectorSize;
  const rootStart = gpt ? mib + ESP_BYTES / sectorSize : mib;
  const rootSectors = end - swapSectors - rootStart;
  if (rootSectors * sectorSize < MIN_ROOT_BYTES) {
    const need = (rootStart + swapSectors + MIN_ROOT_BYTES / sectorSize) * sectorSize + (gpt ? 2 * MiB : MiB);
    throw new FlkError(
      `${request.device} (${formatBytes(request.size)}) is too small for this layout: ${gpt ? "a 512 MiB ESP, " : ""}a root of at least ${formatBytes(MIN_ROOT_BYTES)}${swapBytes ? ` and ${formatBytes(swapBytes)} of swap` : ""} need about ${formatBytes(need)}. Nothing was written. ${swapBytes ? "Give less --swap, or use" : "Use"} a bigger disk.`,
      "E_DISK_TOO_SMALL",
    );
  }
  const part = (number: number, role: Partition["role"], fs: Partition["fs"], start: number, sectors: number, type: string): Partition => ({
    number, role, label: request.labels[role], fs, start, sectors, bytes: sectors * sectorSize, type, node: partitionNode(request.device, number),
  });
  const partitions: Partition[] = [part(1, "root", "ext4", rootStart, rootSectors, gpt ? GPT_TYPES.linux : MBR_TYPES.linux)];
  if (swapSectors > 0) partitions.push(part(2, "swap", "swap", end - swapSectors, swapSectors, gpt ? GPT_TYPES.swap : MBR_TYPES.swap));
  if (gpt) partitions.push(part(partitions.length + 1, "boot", "vfat", mib, ESP_BYTES / sectorSize, GPT_TYPES.esp));
  for (const p of partitions) checkLabel(p);
  return { device: request.device, boot: request.boot, table: gpt ? "gpt" : "dos", sectorSize, partitions, sfdisk: sfdiskScript(gpt, partitions), mkfs: partitions.map(mkfsArgv) };
}

function checkLabel(p: Partition): void {
  const limit = LABEL_LIMITS[p.fs];
  const bytes = new TextEncoder().encode(p.label).length;
  if (bytes === 0 || bytes > limit || /[\0-\x1f\x7f\/]/.test(p.label))
    throw new FlkError(
      `[installer] labels.${p.role} = '${p.label}' cannot be a ${p.fs} label (1 to ${limit} bytes, no control characters or '/'). Nothing was written. Set a shorter label in flk.toml.`,
      "E_LABEL",
    );
}

/**
 * sfdisk's script format (sfdisk(8) "Input format"): a header, then one line
 * per partition in number order. Starts are explicit, so lines need not be in
 * disk order (the manual numbers the ESP last although it comes first).
 */
function sfdiskScript(gpt: boolean, partitions: Partition[]): string {
  const names: Record<Partition["role"], string> = { root: "root", swap: "swap", boot: "ESP" };
  const lines = [`label: ${gpt ? "gpt" : "dos"}`, "unit: sectors", ""];
  for (const p of partitions) {
    const fields = [`start=${p.start}`, `size=${p.sectors}`, `type=${p.type}`];
    if (gpt) fields.push(`name=${names[p.role]}`);
    else if (p.role === "root") fields.push("bootable");
    lines.push(fields.join(", "));
  }
  return lines.join("\n") + "\n";
}

/** The manual's commands: mkfs.ext4 -L nixos, mkswap -L swap, mkfs.fat -F 32 -n boot. */
function mkfsArgv(p: Partition): string[] {
  if (p.fs === "ext4") return ["mkfs.ext4", "-F", "-L", p.label, p.node];
  if (p.fs === "swap") return ["mkswap", "-L", p.label, p.node];
  return ["mkfs.fat", "-F", "32", "-n", p.label, p.node];
}
