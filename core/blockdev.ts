/**
 * What the kernel says about block devices: /sys/block (disks, partitions,
 * holders, loop backing files, diskseq), mounts of every namespace and
 * /proc/swaps. Every reader takes a root so tests can point it at a
 * recorded tree. The verdicts built on this live in disks.ts.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { readAllMountinfo, readMountinfo, unescapeMount, type MountEntry } from "./mountinfo.ts";

/** One kernel block device (whole disk or partition), by kernel name. */
export interface SysBlock {
  /** Kernel name: `sdb`, `sdb1`, `loop3`, `dm-0`. */
  name: string;
  /** `major:minor`, as in /proc/self/mountinfo. */
  dev: string;
  /** Whole disk of a partition. */
  parent?: string;
  partitions: string[];
  /** Devices stacked on this one: dm/LUKS/LVM, md, bcache (`holders/`). */
  holders: string[];
  /** Devices this one is stacked on (`slaves/`). */
  slaves: string[];
  removable: boolean;
  readOnly: boolean;
  /** Bytes (sysfs `size` counts 512-byte sectors whatever the logical block size). */
  size: number;
  /** Logical block size: the unit O_DIRECT transfers must be a multiple of. */
  logicalBlockSize: number;
  /** For loop devices: the backing file as the kernel recorded it. */
  backingFile?: string;
  /** Disk sequence number (Linux ≥ 5.15): changes when a loop device is re-attached or a medium changes. */
  diskseq?: string;
}

/** The block devices of a sysfs tree, by kernel name. */
export function readSysBlocks(sys = "/sys"): Map<string, SysBlock> {
  const out = new Map<string, SysBlock>();
  const root = join(sys, "block");
  for (const disk of safeList(root)) {
    const dir = join(root, disk);
    const entry = readEntry(dir, disk);
    out.set(disk, entry);
    for (const sub of safeList(dir)) {
      if (!existsSync(join(dir, sub, "partition"))) continue;
      const part = readEntry(join(dir, sub), sub);
      part.parent = disk;
      part.removable = entry.removable;
      part.logicalBlockSize = entry.logicalBlockSize;
      entry.partitions.push(sub);
      out.set(sub, part);
    }
  }
  return out;
}

function readEntry(dir: string, name: string): SysBlock {
  const backing = readText(join(dir, "loop", "backing_file"));
  return {
    name,
    dev: readText(join(dir, "dev")) ?? "",
    partitions: [],
    holders: safeList(join(dir, "holders")),
    slaves: safeList(join(dir, "slaves")),
    removable: readText(join(dir, "removable")) === "1",
    readOnly: readText(join(dir, "ro")) === "1",
    size: Number(readText(join(dir, "size")) ?? 0) * 512,
    logicalBlockSize: Number(readText(join(dir, "queue", "logical_block_size")) ?? 512) || 512,
    backingFile: backing || undefined,
    diskseq: readText(join(dir, "diskseq")) || undefined,
  };
}

/** The kernel name of the block device with number `dev` (`8:16` → `sdb`), via /sys/dev/block. */
export function nameOfDev(dev: string, sys = "/sys"): string | undefined {
  try {
    return basename(readlinkSync(join(sys, "dev", "block", dev)));
  } catch {
    return undefined;
  }
}

/** `major:minor` of a device number as stat() returns it (Linux encoding, see <linux/kdev_t.h>). */
export function devString(rdev: number | bigint): string {
  const n = Number(rdev);
  const major = ((n >> 8) & 0xfff) | (Math.floor(n / 2 ** 32) & ~0xfff);
  const minor = (n & 0xff) | ((n >> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** Device paths (or files) of active swap areas from /proc/swaps (first column, header skipped). */
export function parseSwaps(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean)
    .map(unescapeMount);
}

/** What is using block devices right now: mounts and swap, by `major:minor`. */
export interface Usage {
  /** dev → mount points. */
  mounts: Map<string, string[]>;
  /** dev → "swap". */
  swaps: Set<string>;
  /**
   * Kernel name → the mounted multi-device filesystem it belongs to
   * (/sys/fs/btrfs/<uuid>/devices/<name>, there only while that filesystem
   * is mounted, in whatever namespace): mountinfo names one device of a
   * btrfs, the others are in use as much.
   */
  members?: Map<string, { fs: string; uuid: string; devices: string[] }>;
}

/** Devices of every mounted btrfs, by kernel name (see Usage.members). */
export function readFsMembers(sys = "/sys"): Map<string, { fs: string; uuid: string; devices: string[] }> {
  const out = new Map<string, { fs: string; uuid: string; devices: string[] }>();
  const root = join(sys, "fs", "btrfs");
  for (const uuid of safeList(root)) {
    if (!/^[0-9a-f-]{36}$/.test(uuid)) continue;
    const devices = safeList(join(root, uuid, "devices"));
    for (const name of devices) out.set(name, { fs: "btrfs", uuid, devices });
  }
  return out;
}

/**
 * Read mounts and swaps of this system, or of recorded files for tests
 * (`mountinfo` then names one file; by default every mount namespace counts).
 */
export function readUsage(files: { mountinfo?: string; swaps?: string } = {}): Usage {
  const mounts = new Map<string, string[]>();
  const entries: MountEntry[] = files.mountinfo ? readMountinfo(files.mountinfo) : readAllMountinfo();
  for (const m of entries) {
    // btrfs and some others report an anonymous 0:N; the source path names the real device.
    for (const dev of new Set([m.majmin, rdevOf(m.source)].filter((d): d is string => Boolean(d)))) {
      const points = mounts.get(dev) ?? [];
      if (!points.includes(m.mountpoint)) points.push(m.mountpoint);
      mounts.set(dev, points);
    }
  }
  const swaps = new Set<string>();
  for (const path of parseSwaps(readText(files.swaps ?? "/proc/swaps") ?? "")) {
    const dev = rdevOf(path);
    if (dev) swaps.add(dev);
  }
  return { mounts, swaps, ...(files.mountinfo ? {} : { members: readFsMembers() }) };
}

/** `major:minor` of a block device node, or undefined for anything else. */
export function rdevOf(path: string): string | undefined {
  if (!path.startsWith("/")) return undefined;
  try {
    const st = statSync(path);
    return st.isBlockDevice() ? devString(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}
