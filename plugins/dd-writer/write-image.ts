/**
 * `flk write`: every refusal first (exit 2, nothing opened for writing),
 * then the write, the flush and the read-back verify.
 */
import { basename } from "node:path";
import { FlkError, formatBytes, isFlkError, listDisks, messageOf, sha256Fd, systemView, type Disk, type Flk } from "../../core/index.ts";
import { askErase, chooseDevice, confirmNonRemovable, confirmRemovable, confirmStale, type Asker } from "./confirm.ts";
import { closeImage, expectedSha256, findDefaultImage, imageKind, inspectImage, SIGNATURE_BYTES, type ImageInfo } from "./image.ts";
import { executeWrites, type StickResult, type WriteOutcome } from "./execute.ts";
import { readHead } from "./source.ts";
import { staleResult } from "./stale.ts";
import { isDeviceArg, resolveTarget, type Target } from "./target.ts";
import { waitForDisk } from "./wait.ts";
import { writerHooks } from "./hooks.ts";

/** What the command line (or a test) asks for. */
export interface WriteOptions {
  image?: string;
  device?: string;
  /** More sticks, written at once with `device` (`flk write IMAGE DEV1 DEV2 …`). */
  devices?: string[];
  sha256?: string;
  verify: boolean;
  force: boolean;
  /** No DEVICE: wait for a disk to be plugged in (also without a terminal, then with --yes). */
  waitForDevice?: boolean;
  /** How long to wait for it, ms (default 10 minutes). */
  waitTimeoutMs?: number;
  /** Defaults to stdin and stderr being terminals. */
  interactive?: boolean;
  /** Called after the write is flushed, before the read-back (tests corrupt the device here). */
  beforeVerify?: (path: string) => unknown;
}

/** A target that passed every check, with what the operator was shown. */
export interface CheckedTarget {
  target: Target;
  row?: Disk;
}

/** Write an image to one device or file; resolves with the outcome or throws its FlkError. */
export async function writeImage(flk: Flk, options: WriteOptions): Promise<WriteOutcome> {
  const results = await writeImages(flk, options);
  if (results.length === 1 && results[0]!.error !== undefined) throw results[0]!.error;
  const failed = results.filter((r) => r.error !== undefined);
  if (failed.length > 0) throw sticksFailed(results);
  return results[0]!.outcome!;
}

/**
 * Write an image to every DEVICE given (or the one picked, or the one that
 * appears): every refusal first for all of them (exit 2, nothing opened for
 * writing), then one read of the image, the writes in parallel, each flushed
 * and read back. Resolves with one result per stick; a stick's failure does
 * not stop the others.
 */
export async function writeImages(flk: Flk, options: WriteOptions): Promise<StickResult[]> {
  const log = flk.logger("dd-writer");
  // citty gives a bare `--sha256` (or `--sha256=`) as "": without this check the image would be written unchecked.
  if (options.sha256 !== undefined && options.sha256.trim() === "")
    throw new FlkError("--sha256 needs a value: 64 hex digits or a sha256sum file (e.g. --sha256 SHA256SUMS). Nothing was written.", "E_USAGE", 2);
  const ask: Asker = { interactive: options.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY), yes: flk.flags.yes, log };
  const { imageArg, deviceArg } = splitPositionals(options.image, options.device);
  const deviceArgs = [...(deviceArg !== undefined ? [deviceArg] : []), ...(options.devices ?? [])];
  if (options.waitForDevice && deviceArgs.length > 0) throw new FlkError("--wait-for-device waits for a DEVICE to appear: give no DEVICE with it. Nothing was written.", "E_USAGE");
  if (options.waitForDevice && !ask.interactive && !ask.yes)
    throw new FlkError("--wait-for-device without a terminal writes to whatever disk appears: add --yes to allow that (and --timeout SECONDS to bound the wait). Nothing was written.", "E_USAGE");
  const image = await inspectImage(imageArg ?? findDefaultImage(flk.cwd), flk.cwd);
  try {
    // An image flk picked from result/ must not be an old one written silently (see stale.ts).
    const staleWarning = imageArg === undefined ? staleResult(flk.cwd, image.path) : undefined;
    if (staleWarning && (deviceArgs.length > 0 || options.waitForDevice)) await confirmStale(staleWarning, ask);
    const sha256 = options.sha256 !== undefined ? await checkSha256(image, options.sha256, flk.cwd) : undefined;
    await checkSignature(image, options.force, flk);
    const checked: CheckedTarget[] = [];
    if (deviceArgs.length > 0) for (const device of deviceArgs) checked.push(await checkTarget(image, device, options.force, ask, flk.cwd));
    else checked.push(await pickTarget(flk, image, options, ask, staleWarning));
    refuseDuplicates(checked);
    const contexts = checked.map((c) => ({ image: image.path, device: c.target.path, bytes: image.size ?? 0 }));
    for (const context of contexts) await writerHooks(flk).beforeWrite.promise(context);
    const results = await executeWrites(flk, image, checked.map((c) => c.target), { verify: options.verify, sha256, beforeVerify: options.beforeVerify });
    for (const [i, r] of results.entries()) if (r.outcome) await writerHooks(flk).afterWrite.promise({ ...contexts[i]!, bytes: r.outcome.bytes, verified: r.outcome.verified });
    if (results.length > 1) summarize(flk, results);
    return results;
  } finally {
    closeImage(image);
  }
}

/** No DEVICE: the picker on a terminal, or wait for a disk to be plugged in. */
async function pickTarget(flk: Flk, image: ImageInfo, options: WriteOptions, ask: Asker, staleWarning?: string): Promise<CheckedTarget> {
  const picked = options.waitForDevice ? "wait" : await chooseDevice(await listDisks(), { path: image.path, atLeast: image.atLeast, warning: staleWarning }, options.force, ask);
  if (picked !== "wait") return checkTarget(image, picked.path, options.force, ask, flk.cwd, picked.confirmed);
  ask.log.info(`image: ${image.path} (${formatBytes(image.atLeast)})`);
  // The disk that appears is shown and asked about on a terminal ("n": not this one, keep waiting); without one, --yes (checked above) allowed it.
  const accept = ask.interactive && !ask.yes ? (d: Disk) => (d.verdict === "writable" ? askErase(d, ask) : Promise.resolve(true)) : undefined;
  const disk = await waitForDisk({ atLeast: image.atLeast, force: options.force, timeoutMs: options.waitTimeoutMs ?? 600_000, log: ask.log, signal: flk.signal, accept });
  return checkTarget(image, disk.path, options.force, ask, flk.cwd, true);
}

// Two names for one disk would write it twice at once and verify garbage.
function refuseDuplicates(checked: CheckedTarget[]): void {
  const seen = new Map<string, string>();
  for (const { target } of checked) {
    const key = target.kind === "block" ? `block:${target.block.dev}` : `file:${target.judged?.dev ?? target.path}:${target.judged?.ino ?? ""}`;
    const first = seen.get(key);
    if (first !== undefined) throw new FlkError(`${target.path} is named twice (also as ${first}): each stick once. Nothing was written.`, "E_USAGE");
    seen.set(key, target.path);
  }
}

/** The last word for several sticks: which are good, which failed and why (and the NDJSON `summary` event). */
function summarize(flk: Flk, results: StickResult[]): void {
  const log = flk.logger("dd-writer");
  const good = results.filter((r) => r.outcome).map((r) => r.device);
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) log.error(`${r.device} failed: ${messageOf(r.error)}`);
  log.info(`${good.length} of ${results.length} sticks good${good.length ? `: ${good.join(", ")}` : ""}${failed.length ? `; failed: ${failed.map((r) => r.device).join(", ")}` : ""}.`);
  if (flk.flags.json)
    flk.printJson({
      event: "summary",
      good,
      failed: failed.map((r) => ({ device: r.device, error: { code: isFlkError(r.error) ? r.error.code : "E_INTERNAL", message: messageOf(r.error) } })),
    });
}

function sticksFailed(results: StickResult[]): FlkError {
  const failed = results.filter((r) => r.error !== undefined);
  const good = results.filter((r) => r.outcome).map((r) => r.device);
  return new FlkError(
    `${failed.length} of ${results.length} sticks failed (${failed.map((r) => r.device).join(", ")}): write them again. ${good.length ? `Good: ${good.join(", ")}.` : "None is good."}`,
    "E_STICKS_FAILED",
    1,
  );
}

/**
 * One positional is the DEVICE when it is under /dev (`flk write /dev/sdb`
 * writes the default image), otherwise the IMAGE.
 */
export function splitPositionals(image?: string, device?: string): { imageArg?: string; deviceArg?: string } {
  if (image !== undefined && device === undefined && isDeviceArg(image)) return { deviceArg: image };
  return { imageArg: image, deviceArg: device };
}

/**
 * `--sha256` before anything is opened for writing (a wrong file is refused
 * with exit 2); the bytes are hashed again as they are written, and that
 * hash is what "verified" rests on (execute.ts). Returns the expected digest.
 */
async function checkSha256(image: ImageInfo, arg: string, cwd: string): Promise<string> {
  const expected = expectedSha256(arg, image.path, cwd);
  const actual = await sha256Fd(image.fd);
  if (actual !== expected)
    throw new FlkError(
      `sha256 mismatch for ${image.path}: expected ${expected}, the file has ${actual}. Nothing was written. The download or build is corrupt or a different file: fetch or build it again.`,
      "E_SHA256_MISMATCH",
    );
  return expected;
}

async function checkSignature(image: ImageInfo, force: boolean, flk: Flk): Promise<void> {
  let head: Uint8Array;
  try {
    head = await readHead(image, SIGNATURE_BYTES);
  } catch (error) {
    // A corrupt .iso.zst is corrupt, not "not an ISO, add --force" (issue 14 item 8).
    if (isFlkError(error)) throw new FlkError(`${error.message} Nothing was written.`, error.code, 2, { cause: error });
    throw error;
  }
  const kind = imageKind(head);
  if (kind !== "unknown") return;
  const what = `${basename(image.path)} does not look like an ISO9660 or hybrid disk image (no "CD001" at 0x8001, no 0x55AA boot signature at 510)`;
  if (!force) throw new FlkError(`${what}. Nothing was written. If it is what you mean to write, add --force.`, "E_NOT_ISO");
  flk.logger("dd-writer").warn(`${what}; writing it anyway (--force).`);
}

/** Resolve DEVICE, apply every refusal, the size check and the confirmations. */
export async function checkTarget(image: ImageInfo, device: string, force: boolean, ask: Asker, cwd: string, confirmed = false): Promise<CheckedTarget> {
  const view = systemView();
  const target = await resolveTarget(device, image.id, view, cwd, force);
  if (target.kind === "file") return { target };
  if (image.atLeast > target.block.size)
    throw new FlkError(
      `${image.path} (${formatBytes(image.atLeast)}${image.size === undefined ? " at least" : ""}) is larger than ${target.path} (${formatBytes(target.block.size)}, ${target.block.size} bytes). Nothing was written. Use a bigger stick.`,
      "E_TOO_SMALL",
    );
  const row = target.disk;
  if (row.verdict === "needs-force") await confirmNonRemovable(row, force, ask);
  else if (!confirmed && !target.name.startsWith("loop")) await confirmRemovable(row, basename(image.path), ask);
  return { target, row };
}
