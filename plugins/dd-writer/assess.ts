/**
 * The safety verdict for one block device: writable, needs --force
 * (a non-removable disk), or refused (and why). Pure: it works on what
 * sysfs.ts read, so tests can feed it a recorded tree.
 */
import { statSync } from "node:fs";
import { devString, nameOfDev, type SysBlock, type Usage } from "./sysfs.ts";

/** `writable`, `needs-force` (non-removable disk), or `refused` (never, not even with --force). */
export type Verdict = "writable" | "needs-force" | "refused";

/** A verdict with the reason an operator reads. */
export interface Assessment {
  verdict: Verdict;
  /** Why it is refused or needs --force; null when writable. */
  reason: string | null;
}

/** Everything the verdicts look at. */
export interface SystemView {
  blocks: Map<string, SysBlock>;
  usage: Usage;
  /** Kernel names of the disks (and partitions) the image file lives on. */
  imageDisks?: Set<string>;
}

/**
 * Judge `name`. Order matters only for the message: the first reason found is
 * the one shown, most specific first.
 *
 * Loop devices are writable without --force although sysfs says removable=0:
 * they are files, not hardware, and tests and the benchmark write to them;
 * the --force rule exists to protect internal disks.
 */
export function assess(name: string, view: SystemView): Assessment {
  const block = view.blocks.get(name);
  if (!block) return refuse(`not a block device the kernel lists in /sys/block`);
  if (block.parent) return refuse(`a partition of /dev/${block.parent}: write the image to the whole disk, /dev/${block.parent}`);
  if (block.size === 0) return refuse(isLoop(name) ? "an unattached loop device (no backing file)" : "no medium (size 0)");
  if (block.readOnly) return refuse("read-only (write-protect switch, `losetup -r` or `blockdev --setro`)");
  if (view.imageDisks?.has(name)) return refuse("the image file itself lives on this disk");
  const uses = usesOf(name, view);
  if (uses.length > 0) return refuse(`in use: ${uses.join("; ")}`);
  if (isLoop(name)) return { verdict: "writable", reason: null };
  if (!block.removable) return { verdict: "needs-force", reason: "a non-removable disk (internal?): pass --force if you really mean it" };
  return { verdict: "writable", reason: null };
}

function refuse(reason: string): Assessment {
  return { verdict: "refused", reason };
}

/** True for loop devices (`loop3`), which are files, not hardware. */
export function isLoop(name: string): boolean {
  return /^loop\d+$/.test(name);
}

/**
 * What keeps `name` busy: it or a partition mounted or swapped on, a device
 * stacked on it (dm/LUKS/LVM, md — busy even when not mounted: writing under
 * an active mapping corrupts it), or a loop device backed by it.
 */
export function usesOf(name: string, view: SystemView): string[] {
  const reasons: string[] = [];
  const seen = new Set<string>();
  const visit = (node: string, via: string | undefined) => {
    if (seen.has(node)) return;
    seen.add(node);
    const block = view.blocks.get(node);
    if (!block) return;
    const label = `/dev/${node}`;
    for (const mountPoint of view.usage.mounts.get(block.dev) ?? []) reasons.push(`${label} is mounted on ${mountPoint}`);
    if (view.usage.swaps.has(block.dev)) reasons.push(`${label} is active swap (swapoff ${label})`);
    if (via) reasons.push(`${label} is ${via}`);
    for (const part of block.partitions) visit(part, undefined);
    for (const holder of block.holders) visit(holder, `stacked on /dev/${node} (dm/LVM/LUKS/md: close or stop it first)`);
    for (const loop of loopsBackedBy(block, view)) visit(loop, `a loop device backed by /dev/${node} (losetup -d /dev/${loop})`);
  };
  visit(name, undefined);
  return reasons;
}

function loopsBackedBy(block: SysBlock, view: SystemView): string[] {
  const out: string[] = [];
  for (const other of view.blocks.values()) {
    if (!other.backingFile?.startsWith("/")) continue;
    try {
      const st = statSync(other.backingFile);
      if (st.isBlockDevice() && devString(st.rdev) === block.dev) out.push(other.name);
    } catch {
      // A backing file that was deleted ("(deleted)" suffix) cannot be a block device.
    }
  }
  return out;
}

/** A file's identity: what the kernel compares, not its path (hard links, bind mounts, `..` all name one inode). */
export interface FileId {
  dev: bigint;
  ino: bigint;
}

/**
 * The loop devices whose backing file is the file `id`, by (st_dev, st_ino)
 * of each /sys/block/loopN/loop/backing_file. A backing file whose name was
 * deleted ("(deleted)") cannot be stat'ed and is not matched.
 */
export function loopsBackedByFile(id: FileId, blocks: Map<string, SysBlock>): string[] {
  const out: string[] = [];
  for (const block of blocks.values()) {
    if (!block.backingFile?.startsWith("/")) continue;
    try {
      const st = statSync(block.backingFile, { bigint: true });
      if (st.isFile() && st.dev === id.dev && st.ino === id.ino) out.push(block.name);
    } catch {
      // Deleted, or not reachable from this mount namespace.
    }
  }
  return out;
}

/**
 * The disks a file lives on, by device number (not by path): the block
 * device of its file system, that device's whole disk, the devices under a
 * dm/md stack (`slaves/`), and for a loop device the disks of its backing
 * file, recursively.
 */
export function disksOfFile(path: string, blocks: Map<string, SysBlock>, usage: Usage, sys = "/sys"): Set<string> {
  const out = new Set<string>();
  const add = (name: string | undefined, depth: number) => {
    if (!name || out.has(name) || depth > 16) return;
    out.add(name);
    const block = blocks.get(name);
    if (!block) return;
    add(block.parent, depth + 1);
    for (const slave of block.slaves) add(slave, depth + 1);
    if (block.backingFile?.startsWith("/")) for (const disk of disksOfFile(block.backingFile.replace(/ \(deleted\)$/, ""), blocks, usage, sys)) add(disk, depth + 1);
  };
  let dev: string;
  try {
    dev = devString(statSync(path).dev);
  } catch {
    return out;
  }
  add(nameOfDev(dev, sys) ?? nameOfMountedDev(dev, usage, blocks), 0);
  return out;
}

// btrfs and friends give files an anonymous st_dev; the mount's source names the device.
function nameOfMountedDev(dev: string, usage: Usage, blocks: Map<string, SysBlock>): string | undefined {
  if (!usage.mounts.has(dev)) return undefined;
  const points = new Set(usage.mounts.get(dev));
  for (const [other, mountPoints] of usage.mounts) {
    if (other === dev || !mountPoints.some((m) => points.has(m))) continue;
    for (const block of blocks.values()) if (block.dev === other) return block.name;
  }
  return undefined;
}
