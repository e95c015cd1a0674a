/**
 * `flk write`: every refusal first (exit 2, nothing opened for writing),
 * then the write, the flush and the read-back verify.
 */
import { basename } from "node:path";
import { FlkError, formatBytes, isFlkError, listDisks, sha256Fd, systemView, type Disk, type Flk } from "../../core/index.ts";
import { chooseDevice, confirmNonRemovable, confirmRemovable, confirmStale, type Asker } from "./confirm.ts";
import { closeImage, expectedSha256, findDefaultImage, imageKind, inspectImage, SIGNATURE_BYTES, type ImageInfo } from "./image.ts";
import { executeWrite, type WriteOutcome } from "./execute.ts";
import { readHead } from "./source.ts";
import { staleResult } from "./stale.ts";
import { resolveTarget, type Target } from "./target.ts";

/** What the command line (or a test) asks for. */
export interface WriteOptions {
  image?: string;
  device?: string;
  sha256?: string;
  verify: boolean;
  force: boolean;
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

/** Write an image to a device or file; resolves with the outcome or throws FlkError. */
export async function writeImage(flk: Flk, options: WriteOptions): Promise<WriteOutcome> {
  const log = flk.logger("dd-writer");
  // citty gives a bare `--sha256` (or `--sha256=`) as "": without this check the image would be written unchecked.
  if (options.sha256 !== undefined && options.sha256.trim() === "")
    throw new FlkError("--sha256 needs a value: 64 hex digits or a sha256sum file (e.g. --sha256 SHA256SUMS). Nothing was written.", "E_USAGE", 2);
  const ask: Asker = { interactive: options.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY), yes: flk.flags.yes, log };
  const { imageArg, deviceArg } = splitPositionals(options.image, options.device);
  const image = await inspectImage(imageArg ?? findDefaultImage(flk.cwd), flk.cwd);
  try {
    // An image flk picked from result/ must not be an old one written silently (see stale.ts).
    const staleWarning = imageArg === undefined ? staleResult(flk.cwd, image.path) : undefined;
    if (staleWarning && deviceArg !== undefined) await confirmStale(staleWarning, ask);
    const sha256 = options.sha256 !== undefined ? await checkSha256(image, options.sha256, flk.cwd) : undefined;
    await checkSignature(image, options.force, flk);
    const picked = deviceArg === undefined ? await chooseDevice(await listDisks(), { path: image.path, atLeast: image.atLeast, warning: staleWarning }, options.force, ask) : undefined;
    const checked = await checkTarget(image, picked?.path ?? deviceArg!, options.force, ask, flk.cwd, picked?.confirmed ?? false);
    const context = { image: image.path, device: checked.target.path, bytes: image.size ?? 0 };
    await flk.hooks.beforeWrite.promise(context);
    const outcome = await executeWrite(flk, image, checked.target, { verify: options.verify, sha256, beforeVerify: options.beforeVerify });
    await flk.hooks.afterWrite.promise({ ...context, bytes: outcome.bytes, verified: outcome.verified });
    return outcome;
  } finally {
    closeImage(image);
  }
}

/**
 * One positional is the DEVICE when it is under /dev (`flk write /dev/sdb`
 * writes the default image), otherwise the IMAGE.
 */
export function splitPositionals(image?: string, device?: string): { imageArg?: string; deviceArg?: string } {
  if (image !== undefined && device === undefined && image.startsWith("/dev/")) return { deviceArg: image };
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
