/**
 * The write loop, for one stick or several at once. Chunks go through a ring
 * of aligned slots: the main thread fills a slot from the image (read once,
 * whatever the number of sticks), a worker hashes it, the thread pool writes
 * it to every stick (per stick O_DIRECT, in order, one at a time so a fault
 * has one exact offset; the sticks in parallel), and the slot is reused when
 * all of that is done. An fdatasync every `syncEvery` bytes flushes each
 * device's write cache while writing continues, and a final one ends it:
 * durable like `dd conv=fsync`, without `oflag=sync`'s flush after every block.
 *
 * A stick that fails (pulled out, EIO, full) is dropped with its error; the
 * others go on. Only when every stick failed, or the image itself cannot be
 * read, does the loop stop.
 */
import { ftruncate } from "node:fs";
import { FlkError, formatBytes, type Progress } from "../../core/index.ts";
import { datasync, readFully, writeFully, type IoContext } from "./io.ts";
import { alignedBuffer, type HashPool, type Ring } from "./ring.ts";
import type { ImageSource } from "./source.ts";

/** One stick being written. */
export interface FlashTarget extends IoContext {
  fd: number;
  kind: "block" | "file";
  /** The file was opened with O_DIRECT: lengths must be multiples of `unit`. */
  direct: boolean;
  /** Logical block size of the target. */
  unit: number;
  /** Device capacity; a longer (compressed, size unknown) image stops with ENOSPC here. */
  capacity?: number;
  progress: Progress;
  /** Called with the bytes whose writes completed, for the interrupt message. */
  onWritten?: (bytes: number) => void;
  /** Set when this stick failed; it is not written any more. */
  failed?: unknown;
}

/** Everything one write needs. */
export interface FlashPlan {
  targets: FlashTarget[];
  source: ImageSource;
  ring: Ring;
  /** Hash while writing (for verify); omitted with --no-verify. */
  pool?: HashPool;
  syncEvery: number;
  signal: AbortSignal;
}

/** What was written: length, and the SHA-256 of each ring-slot-sized chunk in order. Failed sticks carry `failed`. */
export interface FlashResult {
  bytes: number;
  digests: string[];
}

/**
 * Stream the source to the targets. Throws when the source fails, on abort,
 * and (with the first stick's error) when every stick failed; otherwise a
 * failed stick is marked in its `failed`.
 */
export async function flash(plan: FlashPlan): Promise<FlashResult> {
  const { ring, targets } = plan;
  const busy: Promise<unknown>[] = ring.slots.map(() => Promise.resolve());
  const chains = new Map<FlashTarget, Promise<void>>(targets.map((t) => [t, Promise.resolve()]));
  const syncs: Promise<unknown>[] = [];
  const digests: string[] = [];
  const live = () => targets.filter((t) => t.failed === undefined);
  let offset = 0;
  let lastSync = 0;
  for (let k = 0; ; k++) {
    const slot = k % ring.slots.length;
    await busy[slot];
    if (plan.signal.aborted) throw plan.signal.reason;
    if (live().length === 0) throw targets[0]!.failed;
    const buf = ring.slots[slot]!;
    const n = await plan.source.read(buf);
    if (n === 0) break;
    const at = offset;
    const hashed = plan.pool?.digest(ring.offsets[slot]!, n).then((d) => void (digests[k] = d));
    const writes: Promise<unknown>[] = [];
    for (const t of live()) {
      if (t.capacity !== undefined && at + n > t.capacity) {
        t.failed = tooLong(t, t.capacity);
        continue;
      }
      const chain = chains.get(t)!.then(async () => {
        if (t.failed !== undefined) return;
        await writeChunk(t, buf, n, at);
        t.onWritten?.(at + n);
        t.progress.update(at + n);
      });
      const marked = chain.catch((error) => void (t.failed ??= error));
      chains.set(t, marked);
      writes.push(marked);
    }
    offset += n;
    if (offset - lastSync >= plan.syncEvery) {
      lastSync = offset;
      for (const t of live()) syncs.push(chains.get(t)!.then(() => (t.failed === undefined ? datasync(t.fd) : undefined)).catch((error) => void (t.failed ??= error)));
    }
    busy[slot] = quiet(Promise.all([...writes, hashed]));
    if (n < buf.length) break;
  }
  await Promise.all([...chains.values(), ...busy, ...syncs]);
  await Promise.all(
    live().map((t) =>
      datasync(t.fd).catch((error) => {
        t.failed = new FlkError(`flushing ${t.path} failed (${(error as NodeJS.ErrnoException).code ?? error}): ${t.path} may be incomplete and is not to be trusted.`, "E_SYNC", 1, { cause: error });
      }),
    ),
  );
  for (const t of live()) t.progress.finish(offset);
  if (live().length === 0) throw targets[0]!.failed;
  return { bytes: offset, digests };
}

// Keep the rejection for whoever awaits the promise, without an unhandled-rejection report for slots never awaited again.
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function tooLong(t: FlashTarget, capacity: number): FlkError {
  return new FlkError(
    `the decompressed image is larger than ${t.path} (${formatBytes(capacity)}): stopped at offset ${capacity}. ${t.path} is incomplete and not bootable; use a bigger stick.`,
    "E_NO_SPACE",
    1,
  );
}

/** Write one chunk; with O_DIRECT a last chunk that is not a whole number of blocks ends with a read-modify-write of one block. */
async function writeChunk(t: FlashTarget, buf: Uint8Array, n: number, at: number): Promise<void> {
  const rest = t.direct ? n % t.unit : 0;
  if (n - rest > 0) await writeFully(t.fd, buf, n - rest, at, t);
  if (rest > 0) await writeTail(t, buf.subarray(n - rest, n), at + n - rest);
}

// The device keeps its bytes after the image (as dd leaves them); a regular file is cut to the image's length.
async function writeTail(t: FlashTarget, tail: Uint8Array, at: number): Promise<void> {
  const block = alignedBuffer(t.unit);
  if (t.kind === "block") await readFully(t.fd, block, t.unit, at, t);
  block.set(tail);
  await writeFully(t.fd, block, t.unit, at, t);
  if (t.kind === "file") await new Promise<void>((resolve, reject) => ftruncate(t.fd, at + tail.length, (e) => (e ? reject(e) : resolve())));
}
