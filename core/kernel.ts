/**
 * Kernel calls Node has no API for — flock(2), the BLKGETDISKSEQ and
 * LOOP_GET_STATUS64 ioctls — through bun:ffi, loaded on first use (not at
 * start-up: bench/startup.ts). They ask an open fd, not a path: that is the
 * point (DESIGN.md "Check, then prove").
 */

interface Libc {
  ioctl(fd: number, request: number, arg: unknown): number;
  flock(fd: number, operation: number): number;
}

let libc: Libc | undefined;
let ptrOf: ((view: Uint8Array | BigUint64Array) => unknown) | undefined;

function load(): Libc {
  if (libc) return libc;
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const lib = ffi.dlopen("libc.so.6", {
    ioctl: { args: [ffi.FFIType.i32, ffi.FFIType.u64, ffi.FFIType.ptr], returns: ffi.FFIType.i32 },
    flock: { args: [ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
  });
  ptrOf = (view) => ffi.ptr(view);
  libc = lib.symbols as unknown as Libc;
  return libc;
}

/** BLKGETDISKSEQ = _IOR(0x12, 128, __u64) (linux/fs.h, Linux ≥ 5.15). */
const BLKGETDISKSEQ = 0x80081280;
/** LOOP_GET_STATUS64 (linux/loop.h). */
const LOOP_GET_STATUS64 = 0x4c05;
/** sizeof(struct loop_info64). */
const LOOP_INFO64_SIZE = 232;
const LOCK_EX = 2;
const LOCK_NB = 4;

/** The disk sequence number of the block device open on `fd`, or undefined (old kernel, not a block device). */
export function diskseqOfFd(fd: number): string | undefined {
  const c = load();
  const out = new BigUint64Array(1);
  return c.ioctl(fd, BLKGETDISKSEQ, ptrOf!(out)) === 0 ? String(out[0]) : undefined;
}

/** What the loop device open on `fd` is backed by, as the kernel holds it (also for a deleted file). */
export interface LoopStatus {
  /** st_dev of the backing file, in the kernel's `huge_encode_dev` form (= glibc's for major < 4096). */
  dev: bigint;
  ino: bigint;
  /** The first 63 bytes of the backing file's name. */
  file: string;
}

/** LOOP_GET_STATUS64 on `fd`; undefined when it is not a loop device or not attached (ENXIO). */
export function loopStatusOfFd(fd: number): LoopStatus | undefined {
  const c = load();
  const info = new Uint8Array(LOOP_INFO64_SIZE);
  if (c.ioctl(fd, LOOP_GET_STATUS64, ptrOf!(info)) !== 0) return undefined;
  const view = new DataView(info.buffer);
  // struct loop_info64: lo_device (u64) at 0, lo_inode (u64) at 8, lo_file_name[64] at 56.
  const name = info.subarray(56, 120);
  const end = name.indexOf(0);
  return { dev: view.getBigUint64(0, true), ino: view.getBigUint64(8, true), file: new TextDecoder().decode(end < 0 ? name : name.subarray(0, end)) };
}

/**
 * Take an exclusive flock(2) on `fd` without waiting; false when another open
 * file description holds one (another flk write to the same file).
 */
export function tryLockExclusive(fd: number): boolean {
  return load().flock(fd, LOCK_EX | LOCK_NB) === 0;
}
