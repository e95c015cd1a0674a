/**
 * Positioned reads and writes on the target, off the main thread (node:fs's
 * callback API runs them on the thread pool, so hashing and the next read
 * overlap them), with the fault policy: bounded retries for a device that
 * errors, then "device lost"; no retry for a full device.
 */
import { fdatasync, read, write } from "node:fs";
import { FlkError, formatBytes } from "../../core/index.ts";

/** Errors after which the device may come back: retried, then reported as lost. */
const DEVICE_ERRORS = new Set(["EIO", "ENXIO", "ENODEV", "ENOMEDIUM", "EPERM", "EROFS", "ESHUTDOWN"]);

/** Delays between attempts after a device error, ms (3 retries, ~2 s in all). */
export const RETRY_DELAYS = [200, 600, 1200];

/** How a fault is reported. */
export interface IoContext {
  /** The target, for messages. */
  path: string;
}

function pwrite(fd: number, buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** pread into `buf` at `position`; returns the bytes read (short only at end of file). */
export function pread(fd: number, buf: Uint8Array, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

/** fdatasync on the thread pool. */
export function datasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Write all of `buf[0..length)` at `position`, retrying device errors; faults become FlkErrors (exit 1). */
export async function writeFully(fd: number, buf: Uint8Array, length: number, position: number, ctx: IoContext): Promise<void> {
  let done = 0;
  let attempt = 0;
  while (done < length) {
    try {
      const n = await pwrite(fd, buf, done, length - done, position + done);
      if (n === 0) throw Object.assign(new Error("wrote 0 bytes"), { code: "ENOSPC" });
      done += n;
      attempt = 0;
    } catch (error) {
      attempt = await retryOrThrow(error, attempt, position + done, ctx, "write");
    }
  }
}

/** Read `length` bytes at `position` (less at end of file), retrying device errors. */
export async function readFully(fd: number, buf: Uint8Array, length: number, position: number, ctx: IoContext): Promise<number> {
  for (let attempt = 0; ; ) {
    try {
      return await pread(fd, buf, length, position);
    } catch (error) {
      attempt = await retryOrThrow(error, attempt, position, ctx, "read");
    }
  }
}

/** Sleep before the next attempt, or throw the FlkError that ends the write. */
export async function retryOrThrow(error: unknown, attempt: number, offset: number, ctx: IoContext, what: string): Promise<number> {
  const code = (error as NodeJS.ErrnoException)?.code ?? "";
  if (code === "ENOSPC" || code === "EFBIG")
    throw new FlkError(
      `no space left on ${ctx.path} at offset ${offset} (${formatBytes(offset)}): the image is larger than the device (or the file system holding it is full). ${ctx.path} is incomplete and not bootable.`,
      "E_NO_SPACE",
      1,
      { cause: error },
    );
  if (!DEVICE_ERRORS.has(code))
    throw new FlkError(`${what} failed at offset ${offset} on ${ctx.path}: ${code || String(error)}. ${ctx.path} is incomplete and not bootable.`, "E_IO", 1, { cause: error });
  if (attempt >= RETRY_DELAYS.length)
    throw new FlkError(
      `device lost at offset ${offset} (${formatBytes(offset)}): ${what} failed with ${code} ${attempt + 1} times. ${ctx.path} is incomplete and not bootable: check the stick and its port, then write it again.`,
      "E_DEVICE_LOST",
      1,
      { cause: error },
    );
  await Bun.sleep(RETRY_DELAYS[attempt]!);
  return attempt + 1;
}
