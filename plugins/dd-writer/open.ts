/**
 * Open the judged target for writing, and prove that what was opened is what
 * was judged. The checks name a device by number, then the confirmation may
 * wait for minutes, then the open goes by path: a stick swapped for another
 * disk under the same name, or a file replaced by a symlink to a disk, would
 * otherwise be written. So the opened fd is fstat'ed and compared before a
 * single byte is written or truncated.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync } from "node:fs";
import { busyRefusal, FlkError, proveOpened, readSysBlocks, targetChanged as changed, tryLockExclusive } from "../../core/index.ts";
import { ALIGN } from "./ring.ts";
import { refuseLoopBacking, type BlockTarget, type FileTarget, type Target } from "./target.ts";

/** An fd on the target, proven to be the judged one. */
export interface Opened {
  fd: number;
  direct: boolean;
  /** The unit O_DIRECT transfers must be a multiple of. */
  unit: number;
}

/**
 * Open a block device with O_EXCL (a mount racing the checks then fails
 * here), a file without O_TRUNC (it is cut only after the identity check),
 * both with O_DIRECT where the file system allows it.
 */
export function openTarget(target: Target): Opened {
  let opened: Opened;
  try {
    opened = target.kind === "block" ? openBlock(target) : openFile(target);
  } catch (error) {
    throw openFailed(target.path, error);
  }
  try {
    if (target.kind === "block") proveOpened(opened.fd, { ...target.disk, path: target.path });
    else proveFile(target, opened.fd);
  } catch (error) {
    closeSync(opened.fd);
    throw error;
  }
  return opened;
}

function openBlock(target: BlockTarget): Opened {
  const { O_RDWR, O_EXCL } = constants;
  return { ...openDirect(target.path, O_RDWR | O_EXCL), unit: target.block.logicalBlockSize };
}

// A file to be created is created with O_EXCL: whatever appeared at its path since the check (a symlink to a disk, say) is not opened.
function openFile(target: FileTarget): Opened {
  const { O_RDWR, O_CREAT, O_EXCL } = constants;
  return { ...openDirect(target.path, target.judged ? O_RDWR : O_RDWR | O_CREAT | O_EXCL), unit: ALIGN };
}

function openDirect(path: string, flags: number): { fd: number; direct: boolean } {
  const { O_DIRECT, O_CREAT, O_EXCL } = constants;
  try {
    return { fd: openSync(path, flags | O_DIRECT, 0o644), direct: true };
  } catch (error) {
    // tmpfs and some FUSE file systems reject O_DIRECT with EINVAL; their page cache is the file.
    if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
    // Such a file system may create the file before it rejects the flag, so the retry does not insist on creating it; proveFile checks what it got.
    return { fd: openSync(path, flags & O_CREAT ? flags & ~O_EXCL : flags, 0o644), direct: false };
  }
}

function openFailed(path: string, error: unknown): FlkError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EEXIST") return changed(path, "something appeared at its path");
  // The kernel's own arbitration: it knows holders flk's checks cannot see (another namespace's mount, a btrfs spanning disks).
  if (code === "EBUSY") return busyRefusal(path, error);
  // Linux refuses to open an active swap file (or a running program) for writing: it is in use, like a mounted disk.
  if (code === "ETXTBSY")
    return new FlkError(`refusing to write to ${path}: in use: the kernel will not open it for writing (ETXTBSY: an active swap file or a running program). Nothing was written.`, "E_TARGET_REFUSED", 2, { cause: error });
  return new FlkError(`cannot open ${path} for writing (${code ?? error}). Nothing was written.${code === "EACCES" ? " Run as root (sudo flk write …)." : ""}`, "E_OPEN", 2, { cause: error });
}

// A loop device attached to the file since the check would be pulled out from under its users, so the loop check runs again on the fd.
function proveFile(target: FileTarget, fd: number): void {
  // Two flk writes to one file would interleave and both verify what they wrote: the second is refused (flock, released at close).
  if (!tryLockExclusive(fd))
    throw new FlkError(`${target.path} is being written by another flk write (it holds a lock on the file). Nothing was written. Wait for it to finish.`, "E_BUSY", 2);
  const st = fstatSync(fd, { bigint: true });
  if (!st.isFile()) throw changed(target.path, "it is no longer a regular file");
  if (target.judged && (st.dev !== target.judged.dev || st.ino !== target.judged.ino)) throw changed(target.path, "it is another file now (another inode)");
  if (!target.judged && st.size !== 0n) throw changed(target.path, "a file with contents appeared at its path");
  refuseLoopBacking(target.path, { dev: st.dev, ino: st.ino }, { blocks: readSysBlocks() });
  ftruncateSync(fd, 0);
}
