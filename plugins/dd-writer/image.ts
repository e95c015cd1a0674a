/**
 * The IMAGE argument: the default `result/iso/*.iso`, the compression
 * format, the decompressed size when it can be known before writing, the
 * ISO9660/hybrid signature, and `--sha256`.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync, realpathSync, statSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { FlkError, messageOf, run, type FileId } from "../../core/index.ts";

/** How the image is stored. `raw` is written as is; the others are streamed through their decompressor. */
export type ImageFormat = "raw" | "zstd" | "gzip" | "xz";

/** What flk knows about an image before writing it, and the one fd every byte of it is read through. */
export interface ImageInfo {
  /** As given (resolved against the working directory), for messages. */
  path: string;
  format: ImageFormat;
  /** Opened once, O_NOFOLLOW, proven a regular file: later swaps of the path do not matter. Closed by `closeImage`. */
  fd: number;
  /** The opened file's identity (st_dev, st_ino): the disk judge refuses the disks it lives on. */
  id: FileId;
  /** Bytes of the file as stored. */
  fileSize: number;
  /** Bytes that will go to the device, when known before writing. */
  size?: number;
  /** A lower bound of the bytes that go to the device (gzip's ISIZE is the size mod 4 GiB). */
  atLeast: number;
}

/** The glob patterns of the default image, relative to the working directory. */
export const DEFAULT_IMAGE_GLOB = "result/iso/*.{iso,iso.zst,iso.gz,iso.xz}";

/** The single image under result/iso/, or exit 2 listing what was found. */
export function findDefaultImage(cwd: string): string {
  const found = [...new Bun.Glob(DEFAULT_IMAGE_GLOB).scanSync({ cwd, followSymlinks: true })].sort();
  if (found.length === 1) return resolve(cwd, found[0]!);
  if (found.length === 0)
    throw new FlkError(`no image given and none found at ${DEFAULT_IMAGE_GLOB} under ${cwd}: build one with \`flk iso HOST\`, or name it: flk write IMAGE DEVICE.`, "E_IMAGE_NONE");
  throw new FlkError(`no image given and ${found.length} found under ${cwd}: ${found.join(", ")}. Name the one to write: flk write IMAGE DEVICE.`, "E_IMAGE_MANY");
}

/** The format from the file name (what `isoImage.compressImage` and the usual tools produce). */
export function formatOf(path: string): ImageFormat {
  if (/\.zst$/i.test(path)) return "zstd";
  if (/\.gz$/i.test(path)) return "gzip";
  if (/\.xz$/i.test(path)) return "xz";
  return "raw";
}

/**
 * Open the image once and find its decompressed size where the format
 * records it. The path is resolved (a symlink the user named is fine), then
 * opened with O_NOFOLLOW and the fd must be a regular file (DESIGN.md
 * "Check, then prove": a path swapped for a symlink to /dev/loopN is never
 * read). Everything after this reads the fd, never the path.
 */
export async function inspectImage(arg: string, cwd: string): Promise<ImageInfo> {
  const path = resolve(cwd, arg);
  const { fd, real } = openImage(arg, path, cwd);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.size === 0n) throw new FlkError(`image ${arg} is empty. Nothing was written.`, "E_IMAGE_EMPTY");
    const format = formatOf(path);
    const fileSize = Number(st.size);
    const info: ImageInfo = { path, format, fd, id: { dev: st.dev, ino: st.ino }, fileSize, atLeast: 0 };
    if (format === "raw") info.size = fileSize;
    else if (format === "zstd") info.size = await zstdSize(real, info.id);
    else if (format === "xz") info.size = await xzSize(fdPath(fd));
    else info.atLeast = gzipIsize(fd, fileSize);
    info.atLeast = Math.max(info.atLeast, info.size ?? 0);
    return info;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Release the image's fd. */
export function closeImage(image: ImageInfo): void {
  try {
    closeSync(image.fd);
  } catch {
    // already closed
  }
}

/**
 * A path a child process (zstd, xz) opens to reach exactly the file open on
 * `fd`: /proc/PID/fd/N is a link to the open file, not to a name.
 */
export function fdPath(fd: number): string {
  return `/proc/${process.pid}/fd/${fd}`;
}

function openImage(arg: string, path: string, cwd: string): { fd: number; real: string } {
  let real: string;
  let fd: number;
  try {
    real = realpathSync(path);
    // O_NONBLOCK: opening a FIFO (or a tty) for reading waits for a writer forever, deaf to Ctrl-C; non-blocking it
    // returns at once and the fstat below refuses it. On a regular file the flag changes nothing (reads never wait).
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw imageOpenFailed(arg, path, cwd, error);
  }
  const st = fstatSync(fd);
  if (st.isFile()) return { fd, real };
  closeSync(fd);
  const what = st.isBlockDevice() ? "a block device" : st.isCharacterDevice() ? "a character device" : st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : "not a regular file";
  throw new FlkError(`image ${arg}${real !== path ? ` (→ ${real})` : ""} is ${what}, not an image file: flk write copies image files only. Nothing was written.`, "E_IMAGE_KIND");
}

// Only ENOENT means "does not exist" (issue 14 item 8): a permission problem or a symlink loop says so.
function imageOpenFailed(arg: string, path: string, cwd: string, error: unknown): FlkError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT")
    return new FlkError(`image ${arg} does not exist${relative(cwd, path).startsWith("result") ? ": build it with `flk iso HOST`" : ""}. Nothing was written.`, "E_IMAGE_MISSING", 2, { cause: error });
  if (code === "ELOOP")
    return new FlkError(`image ${arg}: a symlink loop, or its name became a symlink while flk opened it (${code}). Nothing was written.`, "E_IMAGE_KIND", 2, { cause: error });
  const hint = code === "EACCES" || code === "EPERM" ? " Check its permissions (or run as root)." : code === "ENOTDIR" ? " A component of the path is not a directory." : "";
  return new FlkError(`cannot read image ${arg}: ${code ?? messageOf(error)}.${hint} Nothing was written.`, "E_IMAGE_READ", 2, { cause: error });
}

// `zstd -lv` prints "Decompressed Size: 4.77 MiB (5000000 B)" when every frame header records it (RFC 8878 §3.1.1.1.4); a streamed frame does not.
// zstd skips symbolic links, /proc/PID/fd/N too, so it gets the resolved path; the answer counts only
// if that path still names the opened file. It is only the size check's hint: the write reads the fd.
async function zstdSize(path: string, id: FileId): Promise<number | undefined> {
  const r = await run(["zstd", "-lv", "--", path]);
  const m = /Decompressed Size:.*\((\d+) B\)/.exec(r.stdout + r.stderr);
  if (r.code !== 0 || !m) return undefined;
  try {
    const st = statSync(path, { bigint: true });
    return st.dev === id.dev && st.ino === id.ino ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// `xz --robot --list`: the `totals` line's 5th field is the uncompressed size (xz(1) "Robot mode").
async function xzSize(path: string): Promise<number | undefined> {
  const r = await run(["xz", "--robot", "--list", "--", path]);
  const totals = r.stdout.split("\n").find((l) => l.startsWith("totals\t"));
  const n = Number(totals?.split("\t")[4]);
  return r.code === 0 && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** gzip's trailer ISIZE (RFC 1952 §2.3.1): the input size modulo 2^32, so only a lower bound. */
export function gzipIsize(fd: number, size: number): number {
  const tail = new Uint8Array(4);
  if (size < 18 || readSync(fd, tail, 0, 4, size - 4) !== 4) return 0;
  return new DataView(tail.buffer).getUint32(0, true);
}

/** Bytes of the image needed to recognise it: up to the ISO9660 primary volume descriptor's id. */
export const SIGNATURE_BYTES = 0x8006;

/**
 * ISO9660 puts "CD001" at byte 1 of sector 16 (ECMA-119 §8.4, offset 0x8001);
 * a hybrid/MBR image ends sector 0 with 0x55 0xAA (offsets 510, 511).
 */
export function imageKind(head: Uint8Array): "iso9660" | "mbr" | "unknown" {
  if (head.length >= SIGNATURE_BYTES && new TextDecoder().decode(head.subarray(0x8001, 0x8006)) === "CD001") return "iso9660";
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) return "mbr";
  return "unknown";
}

/**
 * `--sha256 HEX|FILE`: 64 hex digits, or a file of `sha256sum` lines
 * (`HEX  name` or `HEX *name`); with several lines, the one naming the image.
 */
export function expectedSha256(arg: string, imagePath: string, cwd: string): string {
  const trimmed = arg.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return trimmed.toLowerCase();
  // `flk write IMG --sha256 /dev/sdb` makes the DEVICE the value: reading a disk as a checksum list would read all of it.
  if (isBlockDevice(resolve(cwd, trimmed)))
    throw new FlkError(`--sha256 ${arg}: a block device, not a \`sha256sum\` file (did --sha256 take the DEVICE argument as its value?). Give --sha256 HEX|FILE, then IMAGE and DEVICE. Nothing was written.`, "E_SHA256_ARG");
  // Only a regular file is read: a FIFO would wait for a writer forever, a device would be read to its end.
  if (!isRegularFile(resolve(cwd, trimmed)) && existsSync(resolve(cwd, trimmed)))
    throw new FlkError(`--sha256 ${arg}: not a regular file (a \`sha256sum\` file or 64 hex digits is expected). Nothing was written.`, "E_SHA256_ARG");
  let text: string;
  try {
    text = readFileSync(resolve(cwd, trimmed), "utf8");
  } catch {
    throw new FlkError(`--sha256: expected 64 hex digits or a file with \`sha256sum\` output, got '${arg}' (${trimmed.length} characters, no such file).`, "E_SHA256_ARG");
  }
  const lines = text.split("\n").map((l) => /^\\?([0-9a-fA-F]{64}) [ *](.+)$/.exec(l.trim())).filter((m): m is RegExpExecArray => m !== null);
  const mine = lines.length === 1 ? lines[0] : lines.find((m) => basename(m[2]!) === basename(imagePath));
  if (!mine) throw new FlkError(`--sha256 ${arg}: no \`sha256sum\` line ${lines.length > 1 ? `names ${basename(imagePath)}` : "found"} (expected lines like 'HEX  ${basename(imagePath)}').`, "E_SHA256_ARG");
  return mine[1]!.toLowerCase();
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isBlockDevice(path: string): boolean {
  try {
    return statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}
