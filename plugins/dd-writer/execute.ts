/**
 * Open the target, write, flush, verify, close — and on SIGINT/SIGTERM stop,
 * close, and say that the stick is incomplete (core re-raises the signal
 * after the cleanups, so the exit status is 130/143).
 */
import { closeSync } from "node:fs";
import { createProgress, FlkError, formatBytes, formatDuration, progressMode, type Flk } from "../../core/index.ts";
import { flash } from "./flash.ts";
import type { ImageInfo } from "./image.ts";
import { openTarget } from "./open.ts";
import { createHashPool, createRing, type HashPool } from "./ring.ts";
import { openSource, type ImageSource } from "./source.ts";
import type { Target } from "./target.ts";
import { findBadChunk, firstBadOffset, verifyFailed } from "./verify.ts";

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

/** Write `image` to the already checked `target`, then verify unless told not to. */
export async function executeWrite(flk: Flk, image: ImageInfo, target: Target, options: ExecuteOptions): Promise<WriteOutcome> {
  const { verify, beforeVerify } = options;
  const log = flk.logger("dd-writer");
  const started = performance.now();
  const opened = openTarget(target);
  const ring = createRing(SLOTS, CHUNK);
  const pool: HashPool | undefined = verify ? createHashPool(ring) : undefined;
  let source: ImageSource | undefined = openSource(image, { hash: options.sha256 !== undefined });
  let phase: "writing" | "verifying" | "done" = "writing";
  let written = 0;
  let work: Promise<unknown> = Promise.resolve();
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    source?.close();
    pool?.close();
    closeSync(opened.fd);
  };
  const unregister = flk.onCleanup(async () => {
    source?.close();
    await Promise.race([work.catch(() => {}), Bun.sleep(3000)]);
    release();
    if (phase === "writing") log.warn(`stopped: ${target.path} is incomplete and not bootable (${written} of ${image.size ?? "?"} bytes written). Write it again with flk write.`);
    if (phase === "verifying") log.warn(`stopped while verifying: ${target.path} was written and flushed but not verified.`);
  });
  const mode = progressMode(flk.flags.json);
  const io = { fd: opened.fd, path: target.path, direct: opened.direct, unit: opened.unit, ring, signal: flk.signal };
  try {
    const writing = flash({
      ...io,
      kind: target.kind,
      source,
      pool,
      capacity: target.kind === "block" ? target.block.size : undefined,
      syncEvery: SYNC_EVERY,
      progress: createProgress({ label: `writing ${target.path}`, total: image.size, mode }),
      onWritten: (bytes) => void (written = bytes),
    });
    work = writing;
    const result = await writing;
    const digest = source.digest();
    source.close();
    source = undefined;
    if (options.sha256 !== undefined && digest !== options.sha256) throw imageChanged(image, target.path, options.sha256, digest);
    if (pool) {
      await beforeVerify?.(target.path);
      phase = "verifying";
      const plan = { ...io, pool, length: result.bytes, digests: result.digests, progress: createProgress({ label: `verifying ${target.path}`, total: result.bytes, mode }) };
      const checking = findBadChunk(plan);
      work = checking;
      const bad = await checking;
      if (bad >= 0) throw verifyFailed(target.path, await firstBadOffset(plan, (source = openSource(image)), bad), result.bytes);
    }
    phase = "done";
    const seconds = (performance.now() - started) / 1000;
    const outcome: WriteOutcome = { image: image.path, device: target.path, bytes: result.bytes, verified: Boolean(pool), ...(digest ? { sha256: digest } : {}), seconds };
    report(flk, outcome);
    return outcome;
  } finally {
    unregister();
    release();
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
