/**
 * Read-back verify: read the target for exactly the image's length with
 * O_DIRECT (the page cache would otherwise answer with what flk just wrote,
 * not what the stick holds), hash each chunk in the workers and compare with
 * the digests taken while writing. On a mismatch the chunk is compared byte
 * by byte with the image to name the first bad offset.
 */
import { FlkError, type Progress } from "../../core/index.ts";
import { readFully, type IoContext } from "./io.ts";
import { alignedBuffer, type HashPool, type Ring } from "./ring.ts";
import type { ImageSource } from "./source.ts";

/** What verify needs. */
export interface VerifyPlan extends IoContext {
  fd: number;
  length: number;
  ring: Ring;
  pool: HashPool;
  digests: string[];
  direct: boolean;
  unit: number;
  signal: AbortSignal;
  progress: Progress;
}

/** The index of the first chunk whose digest differs, or -1 when all match. */
export async function findBadChunk(plan: VerifyPlan): Promise<number> {
  const { ring } = plan;
  const chunks = Math.ceil(plan.length / ring.slotSize);
  const busy: Promise<unknown>[] = ring.slots.map(() => Promise.resolve());
  let bad = Infinity;
  let chain: Promise<unknown> = Promise.resolve();
  for (let k = 0; k < chunks && k < bad; k++) {
    const slot = k % ring.slots.length;
    await busy[slot];
    if (plan.signal.aborted) throw plan.signal.reason;
    const at = k * ring.slotSize;
    const n = Math.min(ring.slotSize, plan.length - at);
    const span = plan.direct ? Math.ceil(n / plan.unit) * plan.unit : n;
    // Reads run concurrently, one per free slot: the device sees a queue instead of one request at a time.
    const read = readFully(plan.fd, ring.slots[slot]!, span, at, plan);
    chain = Promise.all([chain, read]).then(() => plan.progress.update(at + n));
    busy[slot] = read.then(async (got) => {
      const digest = got >= n ? await plan.pool.digest(ring.offsets[slot]!, n) : "";
      if (digest !== plan.digests[k]) bad = Math.min(bad, k);
    });
    busy[slot]!.catch(() => {});
  }
  await Promise.all(busy);
  plan.progress.finish(bad === Infinity ? plan.length : bad * ring.slotSize);
  return bad === Infinity ? -1 : bad;
}

/** The first offset in chunk `k` where the target differs from the image (re-read from `source`, opened afresh). */
export async function firstBadOffset(plan: VerifyPlan, source: ImageSource, k: number): Promise<number> {
  const size = plan.ring.slotSize;
  const expected = new Uint8Array(size);
  for (let i = 0; i <= k; i++) await source.read(expected);
  const at = k * size;
  const n = Math.min(size, plan.length - at);
  const actual = alignedBuffer(Math.ceil(size / plan.unit) * plan.unit);
  const span = plan.direct ? Math.ceil(n / plan.unit) * plan.unit : n;
  const got = await readFully(plan.fd, actual, span, at, plan);
  for (let i = 0; i < n; i++) if (i >= got || actual[i] !== expected[i]) return at + i;
  // The chunk reads back right now: the first read was wrong (a flaky device) or the image changed since.
  return at;
}

/** The FlkError (exit 1) for a failed verify. */
export function verifyFailed(path: string, offset: number, length: number): FlkError {
  return new FlkError(
    `verify failed: ${path} differs from the image at offset ${offset} (of ${length} bytes written). The stick is not to be trusted: write it again, and if it fails at the same place again, replace the stick.`,
    "E_VERIFY",
    1,
  );
}
