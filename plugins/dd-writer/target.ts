/**
 * Turn the DEVICE argument into a target, or refuse (exit 2) before anything
 * is opened for writing. Symlinks (`/dev/disk/by-id/…`) are resolved; block
 * devices are identified by device number through /sys/dev/block, so a node
 * made with mknod outside /dev is judged like the kernel's own.
 */
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { imageKind, SIGNATURE_BYTES } from "./image.ts";
import { FlkError, judgeDisk, lexists, loopsBackedByFile, parseSwaps, type Disk, type FileId, type SysBlock, type SystemView } from "../../core/index.ts";

/** A regular file (created or replaced) — for images and tests. */
export interface FileTarget {
  kind: "file";
  path: string;
  /** The file that was judged, when it existed; undefined when it is to be created. */
  judged?: FileId;
}

/** A whole-disk block device that passed the refusals (it may still need --force). */
export interface BlockTarget {
  kind: "block";
  /** The path as resolved (symlinks followed). */
  path: string;
  /** Kernel name, e.g. `sdb`, `loop3`. */
  name: string;
  block: SysBlock;
  /** The core judge's verdict and description. */
  disk: Disk;
}

export type Target = FileTarget | BlockTarget;

/** Refused before anything was written. */
function refused(message: string, code: string): FlkError {
  return new FlkError(`${message} Nothing was written.`, code, 2);
}

/** Resolve and judge `arg` for writing the image `image` (its open fd's identity); refusals are FlkErrors with exit 2. */
export async function resolveTarget(arg: string, image: FileId, view: SystemView, cwd = process.cwd(), force = false): Promise<Target> {
  const given = resolve(cwd, arg);
  refuseBareDeviceName(arg);
  if (!lexists(given)) return missingTarget(given);
  let path: string;
  try {
    path = realpathSync(given);
  } catch {
    throw refused(`${arg} is a dangling symlink (its target does not exist): is the stick plugged in? Run \`flk devices\`.`, "E_TARGET_MISSING");
  }
  // /dev/stdout piped into another program resolves to "pipe:[N]", not a path: neither a disk nor an image file.
  const st = path.startsWith("/") ? statOrUndefined(path) : undefined;
  if (!st) throw refused(`${arg}${path !== given ? ` (→ ${path})` : ""} is not a block device or an image file (a pipe or socket?): flk write writes whole disks and image files only.`, "E_TARGET_KIND");
  const shown = path === given ? path : `${arg} (→ ${path})`;
  if (st.isDirectory()) throw refused(`${shown} is a directory, not a disk or an image file.`, "E_TARGET_KIND");
  if (st.isCharacterDevice()) throw refused(`${shown} is a character device, not a disk: name the whole disk, e.g. /dev/sdb (see \`flk devices\`).`, "E_TARGET_KIND");
  if (st.isFile()) return fileTarget(path, shown, image, view, force);
  if (!st.isBlockDevice()) throw refused(`${shown} is neither a block device nor a regular file.`, "E_TARGET_KIND");
  const disk = await judgeDisk(path, { image, view });
  if (disk.verdict === "refused") throw refused(`refusing to write to ${shown}: ${disk.reason}.`, "E_TARGET_REFUSED");
  return { kind: "block", path, name: disk.name, block: view.blocks.get(disk.name)!, disk };
}


// A typo like /dev/sdx must never become a regular file in /dev (that is what `dd of=` does: it fills RAM and reports success).
function missingTarget(path: string): FileTarget {
  if (underDev(path) || underDev(realDir(dirname(path))))
    throw refused(`${path} does not exist: is the stick plugged in? Run \`flk devices\` to see the disks (flk never creates files under /dev).`, "E_TARGET_MISSING");
  if (!existsSync(dirname(path))) throw refused(`${path} does not exist and neither does its directory ${dirname(path)}.`, "E_TARGET_MISSING");
  return { kind: "file", path };
}

/**
 * `flk write IMAGE loop0` meant /dev/loop0: writing ./loop0 (what `dd of=loop0` does) would report success
 * for a file nobody wanted. A name without a slash that exists under /dev is refused; `./loop0` names the file.
 */
function refuseBareDeviceName(arg: string): void {
  if (arg.includes("/") || arg === "" || arg === "." || arg === "..") return;
  if (!lexists(`/dev/${arg}`)) return;
  throw refused(`${arg} is not a path, but /dev/${arg} exists: did you mean /dev/${arg}? (To write a file of that name in this directory, say ./${arg}.)`, "E_TARGET_BARE_NAME");
}

function fileTarget(path: string, shown: string, image: FileId, view: SystemView, force: boolean): FileTarget {
  if (underDev(path)) throw refused(`${shown} is a regular file under /dev, probably left by an earlier \`dd\` to a disk that was not there: remove it (rm ${path}) and name a real disk.`, "E_TARGET_KIND");
  const a = statSync(path, { bigint: true });
  if (a.dev === image.dev && a.ino === image.ino) throw refused(`${shown} is the image file itself.`, "E_TARGET_IS_IMAGE");
  const judged = { dev: a.dev, ino: a.ino };
  refuseLoopBacking(shown, judged, view);
  const swap = swapFileOf(judged);
  if (swap) throw refused(`refusing to write to ${shown}: in use: it is an active swap file (swapoff ${swap} first).`, "E_TARGET_REFUSED");
  if (!force && a.size > 0n && !looksLikeImage(path))
    throw refused(`${shown} exists and is not a disk image (no ISO9660 or MBR signature): flk would overwrite it. If you mean to replace it, add --force.`, "E_TARGET_NOT_IMAGE");
  return { kind: "file", path, judged };
}

// An image written earlier (ISO9660 or hybrid/MBR) may be replaced; any other file is someone's data.
function looksLikeImage(path: string): boolean {
  const head = new Uint8Array(SIGNATURE_BYTES);
  let n = 0;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return imageKind(head.subarray(0, n)) !== "unknown";
}

/**
 * A file that backs an attached loop device is in use like a mounted disk:
 * replacing it pulls the disk out from under the loop device (and whatever
 * is mounted on it). --force does not override this, as for disks in use.
 */
export function refuseLoopBacking(shown: string, id: FileId, view: Pick<SystemView, "blocks">): void {
  const loops = loopsBackedByFile(id, view.blocks);
  if (loops.length === 0) return;
  const devices = loops.map((l) => `/dev/${l}`);
  throw refused(
    `refusing to write to ${shown}: in use: it is the backing file of ${devices.join(", ")}. Detach ${loops.length > 1 ? "them" : "it"} first: ${devices.map((d) => `losetup -d ${d}`).join("; ")}.`,
    "E_TARGET_REFUSED",
  );
}

function statOrUndefined(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The active swap files (/proc/swaps) that are the file `id`: writing one is refused like a disk in use (the kernel says ETXTBSY). */
function swapFileOf(id: FileId): string | undefined {
  for (const swap of parseSwaps(readTextOr("/proc/swaps"))) {
    try {
      const st = statSync(swap, { bigint: true });
      if (st.isFile() && st.dev === id.dev && st.ino === id.ino) return swap;
    } catch {
      // Out of this mount namespace, or a partition: not this file.
    }
  }
  return undefined;
}

function readTextOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function underDev(path: string): boolean {
  return path === "/dev" || path.startsWith("/dev/");
}

function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

/** A positional under /dev that is not a regular file is a DEVICE (`flk write /dev/sdb` writes the default image); /dev/shm/x.iso is an IMAGE. */
export function isDeviceArg(arg: string | undefined): boolean {
  if (!arg?.startsWith("/dev/")) return false;
  try {
    return !statSync(arg).isFile();
  } catch {
    return true;
  }
}
