/**
 * sha256 of files with Bun's native hasher: images are GiBs, and
 * @noble/hashes is ~9x slower on bulk data here (DESIGN.md "Performance");
 * it stays for small things (key fingerprints).
 */
import { constants, read } from "node:fs";

/** Read size: 8 MiB, dd-writer's chunk (Bun.file().stream() hands out far smaller pieces). */
const CHUNK = 8 << 20;

/**
 * Hex sha256 of the file at `path` as stored, read in chunks (never whole
 * into memory). With `noFollow` a symlink at `path` is refused (ELOOP).
 */
export async function sha256File(path: string, options: { noFollow?: boolean } = {}): Promise<string> {
  // Required here: node:fs/promises is ~1.5 ms of start-up that plugins load through core/index.ts (bench/startup.ts).
  const { open } = require("node:fs/promises") as typeof import("node:fs/promises");
  const handle = await open(path, constants.O_RDONLY | (options.noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const hasher = new Bun.CryptoHasher("sha256");
    const buf = new Uint8Array(CHUNK);
    for (let n; (n = (await handle.read(buf, 0, buf.length, null)).bytesRead) > 0; ) hasher.update(buf.subarray(0, n));
    return hasher.digest("hex");
  } finally {
    await handle.close();
  }
}

/**
 * Hex sha256 of everything in the file open on `fd`, from offset 0
 * (positioned reads: the fd's offset and its other readers are untouched).
 */
export async function sha256Fd(fd: number): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  const buf = new Uint8Array(CHUNK);
  for (let position = 0, n; (n = await pread(fd, buf, position)) > 0; position += n) hasher.update(buf.subarray(0, n));
  return hasher.digest("hex");
}

function pread(fd: number, buf: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}
