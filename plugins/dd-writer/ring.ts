/**
 * Aligned buffers shared with hashing workers. O_DIRECT needs the buffer's
 * address aligned to the logical block size; one SharedArrayBuffer is cut
 * into page-aligned slots, and Bun Workers hash slots in place (no copy).
 *
 * Why workers: SHA-256 runs at ~1.6 GB/s on one core here, slower than a
 * loop device takes O_DIRECT writes (~2.7 GB/s); with the hash on the main
 * thread `flk write` was 1.7× slower than `dd conv=fsync`, with two workers
 * hashing chunks in parallel it is not (bench/dd-writer.ts).
 */

/** Page size: a safe alignment for every logical block size (512 or 4096). */
export const ALIGN = 4096;

/** A set of aligned slots in one SharedArrayBuffer. */
export interface Ring {
  buffer: SharedArrayBuffer;
  slots: Uint8Array[];
  /** Byte offset of each slot in `buffer`. */
  offsets: number[];
  slotSize: number;
}

/** Allocate `count` slots of `slotSize` bytes (a multiple of ALIGN), each page-aligned. */
export function createRing(count: number, slotSize: number): Ring {
  const buffer = new SharedArrayBuffer(count * slotSize + ALIGN);
  // Loaded when first used, not imported: the bundle would load it at start-up for every command (bench/startup).
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const base = (ALIGN - (ptr(new Uint8Array(buffer)) % ALIGN)) % ALIGN;
  const offsets = Array.from({ length: count }, (_, i) => base + i * slotSize);
  return { buffer, slots: offsets.map((o) => new Uint8Array(buffer, o, slotSize)), offsets, slotSize };
}

/** Slots `from … from+count-1` of `ring` as a ring of their own (same buffer, so the same hash pool serves it). */
export function subRing(ring: Ring, from: number, count: number): Ring {
  return { buffer: ring.buffer, slots: ring.slots.slice(from, from + count), offsets: ring.offsets.slice(from, from + count), slotSize: ring.slotSize };
}

/** An aligned standalone buffer (for a tail block or a re-read). */
export function alignedBuffer(size: number): Uint8Array {
  const ring = createRing(1, Math.ceil(size / ALIGN) * ALIGN);
  return ring.slots[0]!.subarray(0, size);
}

/** SHA-256 of slot ranges, computed by workers. */
export interface HashPool {
  /** Hex SHA-256 of `length` bytes at byte `offset` of the pool's buffer (a slot's `ring.offsets[i]`). */
  digest(offset: number, length: number): Promise<string>;
  close(): void;
}

// Inline source: `bun build --compile` bundles only bin/flk.ts, and a worker
// loaded from a Blob URL needs no second entry point.
const WORKER_SOURCE = `
let buffer;
self.onmessage = (event) => {
  const m = event.data;
  if (m.buffer) { buffer = m.buffer; return; }
  const digest = Bun.CryptoHasher.hash("sha256", new Uint8Array(buffer, m.offset, m.length), "hex");
  self.postMessage({ id: m.id, digest });
};`;

/** Start `workers` hashing workers over `ring`. */
export function createHashPool(ring: Ring, workers = 2): HashPool {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const pending = new Map<number, { resolve: (digest: string) => void; reject: (error: Error) => void }>();
  const pool = Array.from({ length: workers }, () => {
    const worker = new Worker(url);
    worker.postMessage({ buffer: ring.buffer });
    worker.onmessage = (event: MessageEvent<{ id: number; digest: string }>) => {
      pending.get(event.data.id)?.resolve(event.data.digest);
      pending.delete(event.data.id);
    };
    worker.onerror = (event) => {
      for (const p of pending.values()) p.reject(new Error(`hashing worker failed: ${event.message}`));
      pending.clear();
    };
    return worker;
  });
  let next = 0;
  return {
    digest(offset, length) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        pool[id % pool.length]!.postMessage({ id, offset, length });
      });
    },
    close() {
      for (const worker of pool) worker.terminate();
      URL.revokeObjectURL(url);
    },
  };
}
