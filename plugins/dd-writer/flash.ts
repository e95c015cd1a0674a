/**
 * The write loop. Chunks go through a ring of aligned slots: the main thread
 * fills a slot from the image, a worker hashes it, the thread pool writes it
 * (O_DIRECT, in order, one at a time so a fault has one exact offset), and
 * the slot is reused when both are done. An fdatasync every `syncEvery`
 * bytes flushes the device's write cache while writing continues, and a
 * final fsync ends it: durable like `dd conv=fsync`, without `oflag=sync`'s
 * flush after every block.
 */
import { ftruncate } from "node:fs";
import { FlkError, formatBytes, type Progress } from "../../core/index.ts";
import { datasync, readFully, writeFully, type IoContext } from "./io.ts";
import { alignedBuffer, type HashPool, type Ring } from "./ring.ts";
import type { ImageSource } from "./source.ts";

/** Everything one write needs. */
export interface FlashPlan extends IoContext {
  fd: number;
  kind: "block" | "file";
  source: ImageSource;
  ring: Ring;
  /** Hash while writing (for verify); omitted with --no-verify. */
  pool?: HashPool;
  /** The file was opened with O_DIRECT: lengths must be multiples of `unit`. */
  direct: boolean;
  /** Logical block size of the target. */
  unit: number;
  /** Device capacity; a longer (compressed, size unknown) image stops with ENOSPC here. */
  capacity?: number;
  syncEvery: number;
  signal: AbortSignal;
  progress: Progress;
  /** Called with the bytes whose writes completed, for the interrupt message. */
  onWritten?: (bytes: number) => void;
}

/** What was written: length, and the SHA-256 of each ring-slot-sized chunk in order. */
export interface FlashResult {
  bytes: number;
  digests: string[];
}

/** Stream the source to the target. Throws FlkError (exit 1) on faults, and when `signal` aborts. */
export async function flash(plan: FlashPlan): Promise<FlashResult> {
  const { ring, fd } = plan;
  const busy: Promise<unknown>[] = ring.slots.map(() => Promise.resolve());
  const syncs: Promise<void>[] = [];
  const digests: string[] = [];
  let chain: Promise<void> = Promise.resolve();
  let offset = 0;
  let lastSync = 0;
  for (let k = 0; ; k++) {
    const slot = k % ring.slots.length;
    await busy[slot];
    if (plan.signal.aborted) throw plan.signal.reason;
    const buf = ring.slots[slot]!;
    const n = await plan.source.read(buf);
    if (n === 0) break;
    if (plan.capacity !== undefined && offset + n > plan.capacity) throw tooLong(plan, plan.capacity);
    const at = offset;
    const hashed = plan.pool?.digest(slot, n).then((d) => void (digests[k] = d));
    chain = chain.then(() => writeChunk(plan, buf, n, at)).then(() => {
      plan.onWritten?.(at + n);
      plan.progress.update(at + n);
    });
    offset += n;
    if (offset - lastSync >= plan.syncEvery) {
      lastSync = offset;
      syncs.push(quiet(chain.then(() => datasync(fd))));
    }
    busy[slot] = quiet(Promise.all([chain, hashed]));
    if (n < buf.length) break;
  }
  await chain;
  await Promise.all([...busy, ...syncs]);
  await datasync(fd).catch((error) => {
    throw new FlkError(`flushing ${plan.path} failed (${(error as NodeJS.ErrnoException).code ?? error}): ${plan.path} may be incomplete and is not to be trusted.`, "E_SYNC", 1, { cause: error });
  });
  plan.progress.finish(offset);
  return { bytes: offset, digests };
}

// Keep the rejection for whoever awaits the promise, without an unhandled-rejection report for slots never awaited again.
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function tooLong(plan: FlashPlan, capacity: number): FlkError {
  return new FlkError(
    `the decompressed image is larger than ${plan.path} (${formatBytes(capacity)}): stopped at offset ${capacity}. ${plan.path} is incomplete and not bootable; use a bigger stick.`,
    "E_NO_SPACE",
    1,
  );
}

/** Write one chunk; with O_DIRECT a last chunk that is not a whole number of blocks ends with a read-modify-write of one block. */
async function writeChunk(plan: FlashPlan, buf: Uint8Array, n: number, at: number): Promise<void> {
  const rest = plan.direct ? n % plan.unit : 0;
  if (n - rest > 0) await writeFully(plan.fd, buf, n - rest, at, plan);
  if (rest > 0) await writeTail(plan, buf.subarray(n - rest, n), at + n - rest);
}

// The device keeps its bytes after the image (as dd leaves them); a regular file is cut to the image's length.
async function writeTail(plan: FlashPlan, tail: Uint8Array, at: number): Promise<void> {
  const block = alignedBuffer(plan.unit);
  if (plan.kind === "block") await readFully(plan.fd, block, plan.unit, at, plan);
  block.set(tail);
  await writeFully(plan.fd, block, plan.unit, at, plan);
  if (plan.kind === "file") await new Promise<void>((resolve, reject) => ftruncate(plan.fd, at + tail.length, (e) => (e ? reject(e) : resolve())));
}
