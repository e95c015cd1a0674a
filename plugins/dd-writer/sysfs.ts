/**
 * What the kernel says about block devices: /sys/block (disks, partitions,
 * holders, loop backing files), /proc/self/mountinfo and /proc/swaps. Every
 * reader takes a root so tests can point it at a recorded tree.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { basename, join } from "node:path";

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
export function devString(rdev: number): string {
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** One line of /proc/self/mountinfo that matters here. */
export interface MountEntry {
  dev: string;
  mountPoint: string;
  source: string;
}

/**
 * Parse /proc/self/mountinfo (proc(5)): field 3 is `major:minor`, field 5
 * the mount point, and after the ` - ` separator come fstype and source.
 * Octal escapes (`\040` for a space) are decoded.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const [head, tail] = line.split(" - ");
    if (!head || tail === undefined) continue;
    const fields = head.split(" ");
    const rest = tail.split(" ");
    if (fields.length < 5 || !/^\d+:\d+$/.test(fields[2]!)) continue;
    out.push({ dev: fields[2]!, mountPoint: unescapeOctal(fields[4]!), source: unescapeOctal(rest[1] ?? "") });
  }
  return out;
}

/** Device paths (or files) of active swap areas from /proc/swaps (first column, header skipped). */
export function parseSwaps(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter(Boolean)
    .map(unescapeOctal);
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** What is using block devices right now: mounts and swap, by `major:minor`. */
export interface Usage {
  /** dev → mount points. */
  mounts: Map<string, string[]>;
  /** dev → "swap". */
  swaps: Set<string>;
}

/** Read mounts and swaps of this system (or of recorded files, for tests). */
export function readUsage(files: { mountinfo?: string; swaps?: string } = {}): Usage {
  const mounts = new Map<string, string[]>();
  for (const m of parseMountinfo(readText(files.mountinfo ?? "/proc/self/mountinfo") ?? "")) {
    // btrfs and some others report an anonymous 0:N; the source path names the real device.
    for (const dev of new Set([m.dev, rdevOf(m.source)].filter((d): d is string => Boolean(d))))
      mounts.set(dev, [...(mounts.get(dev) ?? []), m.mountPoint]);
  }
  const swaps = new Set<string>();
  for (const path of parseSwaps(readText(files.swaps ?? "/proc/swaps") ?? "")) {
    const dev = rdevOf(path);
    if (dev) swaps.add(dev);
  }
  return { mounts, swaps };
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
