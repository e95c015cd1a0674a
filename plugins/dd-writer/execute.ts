/**
 * Open the targets, write, flush, verify, close — and on SIGINT/SIGTERM stop,
 * close, and say that each stick is incomplete (core re-raises the signal
 * after the cleanups, so the exit status is 130/143).
 */
import { closeSync } from "node:fs";
import { FlkError, formatBytes, formatDuration, progressMode, type Flk } from "../../core/index.ts";
import { flash, type FlashTarget } from "./flash.ts";
import type { ImageInfo } from "./image.ts";
import { openTarget, type Opened } from "./open.ts";
import { stickProgress } from "./progress-lines.ts";
import { createHashPool, createRing, subRing, type HashPool } from "./ring.ts";
import { openSource, type ImageSource } from "./source.ts";
import type { Target } from "./target.ts";
import { findBadChunks, firstBadOffset, verifyFailed, type VerifyStick } from "./verify.ts";

/** Chunk (= hash unit, = one write): 8 MiB measured best of 4/8/16 MiB (bench/dd-writer.ts). */
export const CHUNK = 8 << 20;
/** Slots in the ring: one being filled, one being written, two being hashed. */
export const SLOTS = 4;
/** fdatasync this often while writing, so progress counts bytes the device has. */
export const SYNC_EVERY = 128 << 20;

/** What a finished write reports (also the `--json` result). */
export interface WriteOutcome {
  image: string;
  device: string;
  bytes: number;
  verified: boolean;
  /** With --sha256: the sha256 of the image bytes as they were written (equal to the one given). */
  sha256?: string;
  seconds: number;
}

/** How to write. */
export interface ExecuteOptions {
  verify: boolean;
  /** The expected sha256 of the image file (--sha256): the bytes written must hash to it. */
  sha256?: string;
  /** Called after the write is flushed, before the read-back (tests corrupt the device here). */
  beforeVerify?: (path: string) => unknown;
}

/** How one stick ended: its outcome, or the error that stopped it. */
export interface StickResult {
  device: string;
  outcome?: WriteOutcome;
  error?: unknown;
}

/** Write `image` to the already checked `target`, then verify unless told not to; throws the stick's error. */
export async function executeWrite(flk: Flk, image: ImageInfo, target: Target, options: ExecuteOptions): Promise<WriteOutcome> {
  const [result] = await executeWrites(flk, image, [target], options);
  if (result!.error !== undefined) throw result!.error;
  return result!.outcome!;
}

/**
 * Write `image` to every checked target at once: the image is read once,
 * each chunk goes to all sticks in parallel, each stick is flushed and read
 * back on its own. A stick that fails does not stop the others; its error is
 * in its result. Throws only when nothing could start (an open refused:
 * nothing written anywhere), the image itself fails, or on a signal.
 */
export async function executeWrites(flk: Flk, image: ImageInfo, targets: Target[], options: ExecuteOptions): Promise<StickResult[]> {
  const log = flk.logger("dd-writer");
  const started = performance.now();
  const opened = openAll(targets);
  // Write phase: the first SLOTS slots; verify: SLOTS per stick, all in one buffer the hash workers share.
  const ring = createRing(SLOTS * targets.length, CHUNK);
  const pool: HashPool | undefined = options.verify ? createHashPool(ring) : undefined;
  let source: ImageSource | undefined = openSource(image, { hash: options.sha256 !== undefined });
  const mode = progressMode(flk.flags.json);
  const written = targets.map(() => 0);
  const writeProgress = stickProgress(targets.map((t) => `writing ${t.path}`), image.size, mode);
  const sticks: FlashTarget[] = targets.map((t, i) => ({
    fd: opened[i]!.fd, path: t.path, kind: t.kind, direct: opened[i]!.direct, unit: opened[i]!.unit,
    capacity: t.kind === "block" ? t.block.size : undefined, progress: writeProgress[i]!, onWritten: (bytes) => void (written[i] = bytes),
  }));
  let phase: "writing" | "verifying" | "done" = "writing";
  let work: Promise<unknown> = Promise.resolve();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    source?.close();
    pool?.close();
    for (const o of opened) closeSync(o.fd);
  };
  const unregister = flk.onCleanup(async () => {
    source?.close();
    await Promise.race([work.catch(() => {}), Bun.sleep(3000)]);
    release();
    for (const [i, t] of targets.entries()) {
      if (phase === "writing") log.warn(`stopped: ${t.path} is incomplete and not bootable (${written[i]} of ${image.size ?? "?"} bytes written). Write it again with flk write.`);
      if (phase === "verifying") log.warn(`stopped while verifying: ${t.path} was written and flushed but not verified.`);
    }
  });
  try {
    const writing = flash({ targets: sticks, source, ring: subRing(ring, 0, SLOTS), pool, syncEvery: SYNC_EVERY, signal: flk.signal });
    work = writing;
    const result = await writing.catch((error) => {
      // Every stick failed: each result says why. Anything else (the image, a signal) ends the whole run.
      if (sticks.every((t) => t.failed !== undefined)) return undefined;
      throw error;
    });
    if (!result) return sticks.map((t) => ({ device: t.path, error: t.failed }));
    const digest = source.digest();
    source.close();
    source = undefined;
    if (options.sha256 !== undefined && digest !== options.sha256) {
      const error = imageChanged(image, sticks.map((t) => t.path).join(", "), options.sha256, digest);
      return sticks.map((t) => ({ device: t.path, error: t.failed ?? error }));
    }
    if (pool) {
      phase = "verifying";
      const live = sticks.map((t, i) => ({ t, i })).filter(({ t }) => t.failed === undefined);
      for (const { t } of live) await options.beforeVerify?.(t.path);
      const progress = stickProgress(live.map(({ t }) => `verifying ${t.path}`), result.bytes, mode);
      const group: VerifyStick[] = live.map(({ t, i }, j) => ({ fd: t.fd, path: t.path, direct: t.direct, unit: t.unit, ring: subRing(ring, i * SLOTS, SLOTS), progress: progress[j]! }));
      const checking = findBadChunks({ sticks: group, pool, length: result.bytes, digests: result.digests, signal: flk.signal });
      work = checking;
      const bad = await checking;
      for (const [j, { t }] of live.entries()) {
        if (group[j]!.failed !== undefined) t.failed = group[j]!.failed;
        else if (bad[j]! >= 0) t.failed = verifyFailed(t.path, await firstBadOffsetOf(group[j]!, result.bytes, image, bad[j]!), result.bytes);
      }
    }
    phase = "done";
    const seconds = (performance.now() - started) / 1000;
    return sticks.map((t) => {
      if (t.failed !== undefined) return { device: t.path, error: t.failed };
      const outcome: WriteOutcome = { image: image.path, device: t.path, bytes: result.bytes, verified: Boolean(pool), ...(digest ? { sha256: digest } : {}), seconds };
      report(flk, outcome);
      return { device: t.path, outcome };
    });
  } finally {
    unregister();
    release();
  }
}

// Open every target before writing any: a refusal at the open (E_TARGET_CHANGED, E_BUSY) leaves all sticks untouched.
function openAll(targets: Target[]): Opened[] {
  const opened: Opened[] = [];
  try {
    for (const t of targets) opened.push(openTarget(t));
    return opened;
  } catch (error) {
    for (const o of opened) closeSync(o.fd);
    throw error;
  }
}

/** Where chunk `k` of a stick first differs from the image, re-read through a fresh source. */
async function firstBadOffsetOf(t: VerifyStick, length: number, image: ImageInfo, k: number): Promise<number> {
  const again = openSource(image);
  try {
    return await firstBadOffset(t, length, again, k);
  } finally {
    again.close();
  }
}

// The check before writing passed, so the file changed while it was read: the device holds bytes nobody vouched for.
function imageChanged(image: ImageInfo, device: string, expected: string, actual: string | undefined): FlkError {
  return new FlkError(
    `${image.path} changed while it was written: the bytes written have sha256 ${actual ?? "?"}, not ${expected} (which the file had when checked). ${device} is not verified and not to be trusted: find out what modifies the image, then write it again.`,
    "E_SHA256_CHANGED",
    1,
  );
}

function report(flk: Flk, o: WriteOutcome): void {
  const rate = o.bytes / Math.max(o.seconds, 1e-3) / 1e6;
  const sum = o.sha256 ? `; the bytes written have the expected sha256 ${o.sha256.slice(0, 12)}…` : "";
  const how = o.verified ? `flushed and verified (read back bypassing the page cache${sum})` : `flushed, not verified (--no-verify${sum})`;
  flk.logger("dd-writer").success(`wrote ${formatBytes(o.bytes)} (${o.bytes} bytes) to ${o.device} in ${formatDuration(o.seconds)} (${rate.toFixed(1)} MB/s), ${how}.`);
  if (flk.flags.json) flk.printJson({ event: "written", ...o });
}
