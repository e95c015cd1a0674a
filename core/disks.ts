/**
 * The one disk judge (DESIGN.md "Trust rules" → Disks), used by `flk write`,
 * `flk devices` and `flk disk`: may this block device be overwritten, needs
 * it --force, or never — and why. The verdict itself (`assess`) is pure over
 * a SystemView (sysfs + mounts + swaps), so tests can feed it a recorded tree;
 * `judgeDisk`/`listDisks` read this system and add lsblk's description.
 */
import { closeSync, constants, fstatSync, openSync, realpathSync, statSync } from "node:fs";
import { devString, nameOfDev, readSysBlocks, readUsage, type SysBlock, type Usage } from "./blockdev.ts";
import { FlkError } from "./errors.ts";
import { diskseqOfFd, loopStatusOfFd } from "./kernel.ts";
import { lsblk, type LsblkDevice } from "./lsblk.ts";

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
  /** The image file itself (a loop device backed by it is refused). */
  imageFile?: FileId;
  /** Read on another machine (installer's probe over ssh): its paths are not stat'ed here. */
  remote?: boolean;
  /** Read from this running kernel (systemView()): its devices may be opened and asked (ioctl); a recorded tree's may not. */
  live?: boolean;
}

/** This system's view: sysfs, mounts (every namespace) and swaps. */
export function systemView(): SystemView {
  return { blocks: readSysBlocks(), usage: readUsage(), live: true };
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
  if (block.backingFile) return assessLoop(block, block.backingFile, view, new Set([name]));
  if (isLoop(name)) return { verdict: "writable", reason: null };
  if (!block.removable) return { verdict: "needs-force", reason: "a non-removable disk (internal?): pass --force if you really mean it" };
  return { verdict: "writable", reason: null };
}

/**
 * A loop device is judged by what it stands on (DESIGN.md "Trust rules"):
 * writing /dev/loopN writes its backing file or device.
 * - Backed by a block device: that device is judged (mounted, swap, holders,
 *   partitions, further down its own chain), ignoring the loop devices above
 *   it on this chain; when it is free the write still needs --force, since it
 *   really overwrites that device.
 * - Backed by a file: in use when another loop device is backed by the same
 *   inode (its users see the same bytes), when the file is the image, or
 *   when it lies on a filesystem of the loop device itself (a cycle).
 * `above` holds the loop devices already on the chain (the target first).
 */
function assessLoop(block: SysBlock, backingFile: string, view: SystemView, above: Set<string>): Assessment {
  const path = backingFile.replace(/ \(deleted\)$/, "");
  const shown = `/dev/${block.name}`;
  if (view.remote) return assessRemoteLoop(shown, path, backingFile, view, above);
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    // Deleted or out of this mount namespace: only the recorded name can be compared.
    const twins = [...view.blocks.values()].filter((b) => b.backingFile === backingFile && !above.has(b.name)).map((b) => `/dev/${b.name}`);
    if (twins.length) return refuse(`${shown}'s backing file ${backingFile} is also behind ${twins.join(", ")} (losetup -d them first)`);
    return { verdict: "writable", reason: null };
  }
  if (st.isBlockDevice()) return assessBackingDevice(shown, path, devString(st.rdev), view, above);
  const twins = loopsBackedByFile({ dev: st.dev, ino: st.ino }, view.blocks).filter((n) => !above.has(n));
  if (twins.length)
    return refuse(`${shown}'s backing file ${path} is also the backing file of ${twins.map((n) => `/dev/${n}`).join(", ")}: whatever uses ${twins.length > 1 ? "them" : "it"} would be overwritten (losetup -d ${twins.map((n) => `/dev/${n}`).join(" ")})`);
  if (view.imageFile && view.imageFile.dev === st.dev && view.imageFile.ino === st.ino) return refuse(`${shown}'s backing file is the image file itself`);
  const under = disksOfFile(path, view.blocks, view.usage);
  const cycle = [...above].filter((n) => under.has(n));
  if (cycle.length) return refuse(`${shown}'s backing file ${path} lies on a filesystem of /dev/${cycle[0]}`);
  return { verdict: "writable", reason: null };
}

// Another machine's view (flk disk over ssh): its paths cannot be stat'ed here, so a backing device is found by
// its /dev name and a backing file is the same file only under the same recorded name (hard links are missed).
function assessRemoteLoop(shown: string, path: string, backingFile: string, view: SystemView, above: Set<string>): Assessment {
  const device = path.startsWith("/dev/") ? view.blocks.get(path.slice(5)) : undefined;
  if (device) return assessBackingDevice(shown, path, device.dev, view, above);
  const twins = [...view.blocks.values()].filter((b) => b.backingFile === backingFile && !above.has(b.name)).map((b) => `/dev/${b.name}`);
  if (twins.length) return refuse(`${shown}'s backing file ${path} is also the backing file of ${twins.join(", ")} (losetup -d them first)`);
  return { verdict: "writable", reason: null };
}

function assessBackingDevice(shown: string, path: string, dev: string, view: SystemView, above: Set<string>): Assessment {
  const under = [...view.blocks.values()].find((b) => b.dev === dev);
  if (!under) return refuse(`${shown} is backed by ${path} (${dev}), a block device the kernel does not list`);
  if (above.has(under.name)) return refuse(`${shown} is backed by a loop chain that comes back to /dev/${under.name}`);
  const via = `${shown} is backed by the block device /dev/${under.name}`;
  if (view.imageDisks?.has(under.name)) return refuse(`${via}, where the image file lives`);
  const uses = usesOf(under.name, view, new Set(above));
  if (uses.length > 0) return refuse(`${via}, which is in use: ${uses.join("; ")}`);
  if (under.backingFile) {
    const deeper = assessLoop(under, under.backingFile, view, new Set([...above, under.name]));
    if (deeper.verdict === "refused") return refuse(`${via}: ${deeper.reason}`);
  }
  return { verdict: "needs-force", reason: `${via}: writing it overwrites /dev/${under.name}` };
}

function refuse(reason: string): Assessment {
  return { verdict: "refused", reason };
}

/** True for loop devices (`loop3`), which are files, not hardware. */
export function isLoop(name: string): boolean {
  return /^loop\d+$/.test(name);
}

/** May a disk with this verdict be written, given --force? (`refused` never.) */
export function mayWrite(verdict: Verdict, force: boolean): boolean {
  return verdict === "writable" || (verdict === "needs-force" && force);
}

/**
 * What keeps `name` busy: it or a partition mounted or swapped on, a device
 * stacked on it (dm/LUKS/LVM, md — busy even when not mounted: writing under
 * an active mapping corrupts it), or a loop device backed by it.
 */
export function usesOf(name: string, view: SystemView, ignore: Set<string> = new Set()): string[] {
  const reasons: string[] = [];
  const seen = new Set<string>(ignore);
  const visit = (node: string, via: string | undefined) => {
    if (seen.has(node)) return;
    seen.add(node);
    const block = view.blocks.get(node);
    if (!block) return;
    const label = `/dev/${node}`;
    // Every mount namespace counts, so the root disk may be mounted in dozens of places: name a few.
    const points = view.usage.mounts.get(block.dev) ?? [];
    for (const mountPoint of points.slice(0, 3)) reasons.push(`${label} is mounted on ${mountPoint}`);
    if (points.length > 3) reasons.push(`${label} is mounted in ${points.length - 3} more places`);
    if (view.usage.swaps.has(block.dev)) reasons.push(`${label} is active swap (swapoff ${label})`);
    // A device of a mounted btrfs other than the one mountinfo names (the kernel holds every one of them).
    const fs = view.usage.members?.get(node);
    if (fs && points.length === 0) {
      const others = fs.devices.filter((d) => d !== node).map((d) => `/dev/${d}`);
      reasons.push(`${label} is a device of the mounted ${fs.fs} filesystem ${fs.uuid}${others.length ? ` (with ${others.join(", ")})` : ""}: unmount it first`);
    }
    if (via) reasons.push(`${label} is ${via}`);
    for (const part of block.partitions) visit(part, undefined);
    for (const holder of block.holders) visit(holder, `stacked on /dev/${node} (dm/LVM/LUKS/md: close or stop it first)`);
    for (const loop of loopsBackedBy(block, view)) visit(loop, `a loop device backed by /dev/${node} (losetup -d /dev/${loop})`);
    for (const loop of loopsOnFilesOf(block, view)) visit(loop, `a loop device backed by a file on /dev/${node}'s filesystem (losetup -d /dev/${loop})`);
  };
  visit(name, undefined);
  return reasons;
}

function loopsBackedBy(block: SysBlock, view: SystemView): string[] {
  const out: string[] = [];
  for (const other of view.blocks.values()) {
    if (!other.backingFile?.startsWith("/")) continue;
    if (view.remote) {
      if (other.backingFile === `/dev/${block.name}`) out.push(other.name);
      continue;
    }
    try {
      const st = statSync(other.backingFile);
      if (st.isBlockDevice() && devString(st.rdev) === block.dev) out.push(other.name);
    } catch {
      // A backing file that was deleted ("(deleted)" suffix) cannot be a block device.
    }
  }
  return out;
}

/**
 * Loop devices backed by a regular file that lies on a filesystem of `block`
 * (DESIGN.md "Trust rules": such a file is in use). The kernel's own record
 * (LOOP_GET_STATUS64's lo_device: the backing file's st_dev) is asked, not
 * the path: after `umount -l` the filesystem no longer shows in any
 * mountinfo and the path resolves nowhere, yet the loop device keeps the
 * filesystem alive, and writing the disk would destroy it under it.
 */
function loopsOnFilesOf(block: SysBlock, view: SystemView): string[] {
  if (!view.live || view.remote) return [];
  const out: string[] = [];
  for (const other of view.blocks.values()) {
    if (!other.backingFile || other.name === block.name) continue;
    if (backingDevOf(other, view) === block.dev) out.push(other.name);
  }
  return out;
}

/** Asked once per loop device and view (a judgement), never across views: loop devices can be re-pointed. */
const backingDevs = new WeakMap<SystemView, Map<string, string | undefined>>();

/** `major:minor` of the filesystem holding loop device `name`'s backing file, from the kernel; undefined when it cannot be asked. */
function backingDevOf(loop: SysBlock, view: SystemView): string | undefined {
  const name = loop.name;
  let known = backingDevs.get(view);
  if (!known) backingDevs.set(view, (known = new Map()));
  if (known.has(name)) return known.get(name);
  let dev: string | undefined;
  let fd: number | undefined;
  try {
    fd = openSync(`/dev/${name}`, constants.O_RDONLY);
    const status = loopStatusOfFd(fd);
    // The device opened is the one the view recorded (same device number, still attached).
    if (status && status.dev !== 0n && devString(fstatSync(fd).rdev) === loop.dev) dev = devString(status.dev);
  } catch {
    dev = undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  known.set(name, dev);
  return dev;
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
  let dev: string;
  try {
    dev = devString(statSync(path).dev);
  } catch {
    return out;
  }
  for (const disk of disksOfDev(dev, blocks, usage, sys)) out.add(disk);
  return out;
}

/** The disks under a filesystem with st_dev `dev` (`major:minor`): see disksOfFile. */
export function disksOfDev(dev: string, blocks: Map<string, SysBlock>, usage: Usage, sys = "/sys"): Set<string> {
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

/** One judged disk: what `flk devices --json` prints (plus `name`, `dev`), what `flk write` and `flk disk` check. */
export interface Disk {
  path: string;
  size: number;
  model: string | null;
  serial: string | null;
  removable: boolean;
  transport: string | null;
  type: string;
  verdict: Verdict;
  reason: string | null;
  /** Kernel name (`sdb`, `loop3`). */
  name: string;
  /** `major:minor`. */
  dev: string;
  /** Disk sequence number when judged (sysfs `diskseq`): a re-attached loop device or a new medium has another. */
  diskseq?: string;
  /** A loop device's backing file (or device) as the kernel recorded its name. */
  backing?: string;
  /** The backing file's identity when judged, `major:minor:inode` (what the opened fd must still stand on). */
  backingInode?: string;
}

/** Combine lsblk's description with the verdict for one device. */
export function describeDisk(d: LsblkDevice, view: SystemView): Disk {
  const { verdict, reason } = assess(d.kname, view);
  const block = view.blocks.get(d.kname);
  return {
    path: d.path,
    size: block?.size ?? d.size,
    model: d.model,
    serial: d.serial,
    removable: block?.removable ?? false,
    transport: d.tran,
    type: d.type,
    verdict,
    reason,
    name: d.kname,
    dev: block?.dev ?? "",
    diskseq: block?.diskseq,
    backing: block?.backingFile,
    backingInode: block?.backingFile ? inodeOf(block.backingFile) : undefined,
  };
}

function inodeOf(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return `${devString(st.dev)}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Every block device with its verdict; writable ones first, then needs-force, then refused. */
export async function listDisks(view: SystemView = systemView()): Promise<Disk[]> {
  const rows = (await lsblk()).map((d) => describeDisk(d, view));
  const rank: Record<Verdict, number> = { writable: 0, "needs-force": 1, refused: 2 };
  return rows.sort((a, b) => rank[a.verdict] - rank[b.verdict] || a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** What `judgeDisk` may be told. */
export interface JudgeOptions {
  /** The image to be written (its path, or the identity of its open fd): the disks it lives on are refused. */
  image?: string | FileId;
  /** A view read earlier (default: read now). */
  view?: SystemView;
}

/**
 * Judge the block device at `path` (symlinks such as /dev/disk/by-id/… are
 * followed; the device is identified by number, so a node made with mknod
 * outside /dev is judged like the kernel's own). A path that is not a block
 * device the kernel lists is a FlkError (exit 2); a disk in use is not an
 * error but a `refused` verdict with its reason — the caller decides.
 */
export async function judgeDisk(path: string, options: JudgeOptions = {}): Promise<Disk> {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new FlkError(`${path} does not exist: is the disk attached? Run \`flk devices\`. Nothing was written.`, "E_TARGET_MISSING");
  }
  const st = statSync(real);
  if (!st.isBlockDevice()) throw new FlkError(`${path} is not a block device: name a whole disk, e.g. /dev/sdb (see \`flk devices\`). Nothing was written.`, "E_TARGET_KIND");
  const view = options.view ?? systemView();
  const name = nameOfDev(devString(st.rdev));
  const block = name ? view.blocks.get(name) : undefined;
  if (!name || !block) throw new FlkError(`${path} is a block device the kernel does not list in /sys/block. Nothing was written.`, "E_TARGET_UNKNOWN");
  const judged = options.image ? withImage(view, options.image) : view;
  const described = (await lsblk([real]).catch(() => [])).find((d) => d.kname === name);
  const disk = describeDisk(described ?? { kname: name, path: real, type: "disk", size: block.size, model: null, serial: null, tran: null }, judged);
  return { ...disk, path: real };
}

/**
 * Prove that the opened `fd` is the judged disk (DESIGN.md "Check, then
 * prove"): the checks named a device by number, then a confirmation may wait
 * for minutes, then the open went by path — a stick swapped for another disk
 * under the same name would otherwise be written. Throws E_TARGET_CHANGED
 * (exit 2, nothing written yet).
 */
export function proveOpened(fd: number, disk: Pick<Disk, "path" | "name" | "dev" | "diskseq" | "backingInode">, again = "flk write"): void {
  const st = fstatSync(fd);
  if (!st.isBlockDevice()) throw targetChanged(disk.path, `judged block device ${disk.dev} (/dev/${disk.name}), opened something that is not a block device`, again);
  const now = devString(st.rdev);
  if (now !== disk.dev) {
    const name = nameOfDev(now);
    throw targetChanged(disk.path, `judged ${disk.dev} (/dev/${disk.name}), opened ${now}${name ? ` (/dev/${name})` : ""}`, again);
  }
  // Same number, another disk: a loop device detached and attached again, or a new medium, has a new diskseq.
  const seq = diskseqOfFd(fd);
  if (disk.diskseq !== undefined && seq !== undefined && seq !== disk.diskseq)
    throw targetChanged(disk.path, `judged /dev/${disk.name} with diskseq ${disk.diskseq}, opened diskseq ${seq}: re-attached or another medium`, again);
  if (!isLoop(disk.name)) return;
  const loop = loopStatusOfFd(fd);
  if (!loop) throw targetChanged(disk.path, `judged loop device /dev/${disk.name}, which is not attached now`, again);
  const backing = `${devString(loop.dev)}:${loop.ino}`;
  // A backing file whose name was deleted could not be stat'ed when judged: diskseq alone proves it then.
  if (disk.backingInode !== undefined && backing !== disk.backingInode)
    throw targetChanged(disk.path, `judged /dev/${disk.name} backed by inode ${disk.backingInode ?? "?"}, it is backed by inode ${backing} (${loop.file}) now`, again);
}

/** The refusal for a target that is not what was judged. */
export function targetChanged(path: string, why: string, again = "flk write"): FlkError {
  return new FlkError(`${path}: the device changed between the checks and the write (${why}): nothing was written. Check it with \`flk devices\` and run ${again} again.`, "E_TARGET_CHANGED", 2);
}

/** The view with the image's disks and identity, for judging a target of that image. */
export function withImage(view: SystemView, image: string | FileId): SystemView {
  let id: FileId | undefined = typeof image === "string" ? undefined : image;
  if (typeof image === "string") {
    try {
      const st = statSync(image, { bigint: true });
      id = { dev: st.dev, ino: st.ino };
    } catch {
      return view;
    }
  }
  return { ...view, imageDisks: disksOfDev(devString(id!.dev), view.blocks, view.usage), imageFile: id };
}

/**
 * The refusal for a block device the kernel will not open exclusively
 * (EBUSY on O_EXCL): something holds it that flk's own checks did not see —
 * a mount in a mount namespace flk cannot read, a filesystem spanning several
 * disks (btrfs, bcachefs), an open by another program — or a mount that
 * raced the checks. Nothing was written: the open is the last thing before
 * the first write.
 */
export function busyRefusal(path: string, cause?: unknown): FlkError {
  return new FlkError(
    `${path} is busy: the kernel reports it in use (held by something flk's checks cannot see, e.g. a mount in another namespace or a filesystem spanning disks). ` +
      `Nothing was written. Find what holds it (\`lsblk ${path}\`, \`findmnt --source ${path}\`, \`fuser -vm ${path}\`), release it, and try again.`,
    "E_BUSY",
    2,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Claim the judged disk the way the kernel arbitrates (open with O_EXCL),
 * prove the fd is the judged device, and let go: a disk something holds is
 * refused here, cleanly (exit 2), before a program that writes it runs —
 * not halfway through by sfdisk's or mkfs's own in-use check. The claim is
 * released before those programs run, since they claim the disk themselves.
 */
export function claimDisk(disk: Pick<Disk, "path" | "name" | "dev" | "diskseq" | "backingInode">): void {
  let fd: number;
  try {
    fd = openSync(disk.path, constants.O_RDONLY | constants.O_EXCL | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EBUSY") throw busyRefusal(disk.path, error);
    throw new FlkError(`cannot open ${disk.path} (${code ?? error}). Nothing was written.${code === "EACCES" ? " Run as root." : ""}`, "E_OPEN", 2, { cause: error });
  }
  try {
    proveOpened(fd, disk, "flk disk");
  } finally {
    closeSync(fd);
  }
}
