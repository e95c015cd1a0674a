/**
 * Read-back verify: read each stick for exactly the image's length with
 * O_DIRECT (the page cache would otherwise answer with what flk just wrote,
 * not what the stick holds), hash a chunk in the workers and compare with
 * the digests taken while writing (several sticks: one hashed, the others
 * compared with it byte for byte). On a mismatch the chunk is compared byte
 * by byte with the image to name the first bad offset.
 */
import { FlkError, type Progress } from "../../core/index.ts";
import { readFully, type IoContext } from "./io.ts";
import { alignedBuffer, type HashPool, type Ring } from "./ring.ts";
import type { ImageSource } from "./source.ts";

/** One stick in a group verify: its fd and its own slots (same buffer as the hash pool's). */
export interface VerifyStick extends IoContext {
  fd: number;
  direct: boolean;
  unit: number;
  ring: Ring;
  progress: Progress;
  /** Set when reading it back failed (a read fault after retries). */
  failed?: unknown;
}

/** What a group verify needs. */
export interface GroupVerifyPlan {
  sticks: VerifyStick[];
  pool: HashPool;
  length: number;
  digests: string[];
  signal: AbortSignal;
}

/**
 * Read every stick back in step, chunk by chunk, and return for each the
 * index of its first chunk that differs from what was written (-1 when all
 * match). Per chunk only one stick is hashed against the digest taken while
 * writing; every other stick is compared byte for byte with that verified
 * chunk (memcmp is ~10× cheaper than SHA-256, and two cores hash slower than
 * two loop devices read). If the hashed one differs, the next one is hashed.
 */
export async function findBadChunks(plan: GroupVerifyPlan): Promise<number[]> {
  const { sticks } = plan;
  const slotSize = sticks[0]!.ring.slotSize;
  const slots = sticks[0]!.ring.slots.length;
  const chunks = Math.ceil(plan.length / slotSize);
  const bad = sticks.map(() => Infinity);
  const busy: Promise<unknown>[] = Array.from({ length: slots }, () => Promise.resolve());
  for (let k = 0; k < chunks; k++) {
    const slot = k % slots;
    await busy[slot];
    if (plan.signal.aborted) throw plan.signal.reason;
    const active = sticks.map((_, i) => i).filter((i) => bad[i]! > k && sticks[i]!.failed === undefined);
    if (active.length === 0) break;
    const at = k * slotSize;
    const n = Math.min(slotSize, plan.length - at);
    // Reads run concurrently, one per free slot and stick: each device sees a queue instead of one request at a time.
    const reads = active.map((i) => {
      const t = sticks[i]!;
      const span = t.direct ? Math.ceil(n / t.unit) * t.unit : n;
      return readFully(t.fd, t.ring.slots[slot]!, span, at, t).then(
        (got) => got >= n,
        (error) => {
          t.failed ??= error;
          return false;
        },
      );
    });
    busy[slot] = Promise.all(reads).then(async (complete) => {
      let reference: Uint8Array | undefined;
      for (const [j, i] of active.entries()) {
        const t = sticks[i]!;
        if (t.failed !== undefined) continue;
        const mine = t.ring.slots[slot]!.subarray(0, n);
        const good = !complete[j] ? false : reference ? Buffer.compare(reference, mine) === 0 : (await plan.pool.digest(t.ring.offsets[slot]!, n)) === plan.digests[k];
        if (good && !reference) reference = mine;
        if (!good) bad[i] = Math.min(bad[i]!, k);
        else t.progress.update(at + n);
      }
    });
    busy[slot]!.catch(() => {});
  }
  await Promise.all(busy);
  return sticks.map((t, i) => {
    t.progress.finish(bad[i] === Infinity ? plan.length : bad[i]! * slotSize);
    return bad[i] === Infinity ? -1 : bad[i]!;
  });
}

/** The first offset in chunk `k` where the stick differs from the image (re-read from `source`, opened afresh). */
export async function firstBadOffset(t: VerifyStick, length: number, source: ImageSource, k: number): Promise<number> {
  const size = t.ring.slotSize;
  const expected = new Uint8Array(size);
  for (let i = 0; i <= k; i++) await source.read(expected);
  const at = k * size;
  const n = Math.min(size, length - at);
  const actual = alignedBuffer(Math.ceil(size / t.unit) * t.unit);
  const span = t.direct ? Math.ceil(n / t.unit) * t.unit : n;
  const got = await readFully(t.fd, actual, span, at, t);
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
