/**
 * The IMAGE argument: the default `result/iso/*.iso`, the compression
 * format, the decompressed size when it can be known before writing, the
 * ISO9660/hybrid signature, and `--sha256`.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, relative, resolve } from "node:path";
import { FlkError, run } from "../../core/index.ts";

/** How the image is stored. `raw` is written as is; the others are streamed through their decompressor. */
export type ImageFormat = "raw" | "zstd" | "gzip" | "xz";

/** What flk knows about an image before writing it. */
export interface ImageInfo {
  path: string;
  format: ImageFormat;
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

/** Stat the image and find its decompressed size where the format records it. */
export async function inspectImage(arg: string, cwd: string): Promise<ImageInfo> {
  const path = resolve(cwd, arg);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new FlkError(`image ${arg} does not exist${relative(cwd, path).startsWith("result") ? ": build it with `flk iso HOST`" : ""}.`, "E_IMAGE_MISSING");
  }
  if (!st.isFile()) throw new FlkError(`image ${arg} is not a regular file.`, "E_IMAGE_KIND");
  if (st.size === 0) throw new FlkError(`image ${arg} is empty.`, "E_IMAGE_EMPTY");
  const format = formatOf(path);
  const info: ImageInfo = { path, format, fileSize: st.size, atLeast: 0 };
  if (format === "raw") info.size = st.size;
  else if (format === "zstd") info.size = await zstdSize(path);
  else if (format === "xz") info.size = await xzSize(path);
  else info.atLeast = gzipIsize(path);
  info.atLeast = Math.max(info.atLeast, info.size ?? 0);
  return info;
}

// `zstd -lv` prints "Decompressed Size: 4.77 MiB (5000000 B)" when every frame header records it (RFC 8878 §3.1.1.1.4); a streamed frame does not.
async function zstdSize(path: string): Promise<number | undefined> {
  const r = await run(["zstd", "-lv", "--", path]);
  const m = /Decompressed Size:.*\((\d+) B\)/.exec(r.stdout + r.stderr);
  return r.code === 0 && m ? Number(m[1]) : undefined;
}

// `xz --robot --list`: the `totals` line's 5th field is the uncompressed size (xz(1) "Robot mode").
async function xzSize(path: string): Promise<number | undefined> {
  const r = await run(["xz", "--robot", "--list", "--", path]);
  const totals = r.stdout.split("\n").find((l) => l.startsWith("totals\t"));
  const n = Number(totals?.split("\t")[4]);
  return r.code === 0 && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** gzip's trailer ISIZE (RFC 1952 §2.3.1): the input size modulo 2^32, so only a lower bound. */
export function gzipIsize(path: string): number {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const tail = new Uint8Array(4);
    if (size < 18 || readSync(fd, tail, 0, 4, size - 4) !== 4) return 0;
    return new DataView(tail.buffer).getUint32(0, true);
  } finally {
    closeSync(fd);
  }
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

function isBlockDevice(path: string): boolean {
  try {
    return statSync(path).isBlockDevice();
  } catch {
    return false;
  }
}
