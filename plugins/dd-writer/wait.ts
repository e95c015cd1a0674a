/**
 * "Plug in the USB stick": wait for a disk to appear, then hand it to the
 * usual checks. What counts as appearing: a whole disk in /sys/block with a
 * medium (size > 0) whose (kernel name, diskseq) was not there when flk
 * started waiting. diskseq (Linux ≥ 5.15) is new for every hot-plugged disk,
 * every new medium and every loop device attach — so a stick plugged into a
 * port it used before counts, and in this VM (where no disk is "removable")
 * a loop device attached meanwhile counts too. A disk the judge refuses, or
 * one smaller than the image, is reported once and waited past.
 */
import type { ConsolaInstance } from "consola";
import { FlkError, formatBytes, judgeDisk, mayWrite, readSysBlocks, type Disk } from "../../core/index.ts";
import { describe } from "./confirm.ts";

/** How to wait. */
export interface WaitOptions {
  /** Bytes the image needs. */
  atLeast: number;
  force: boolean;
  timeoutMs: number;
  log: ConsolaInstance;
  signal: AbortSignal;
  /** Poll interval, ms. */
  everyMs?: number;
  /** Asked about each disk that may be written; false = not this one, keep waiting (another stick may come). */
  accept?: (disk: Disk) => Promise<boolean>;
}

function present(): Set<string> {
  const out = new Set<string>();
  for (const b of readSysBlocks().values()) if (!b.parent && b.size > 0) out.add(`${b.name}@${b.diskseq ?? ""}`);
  return out;
}

/** Resolve with the first disk that appears and may be written; exit 2 at the timeout. */
export async function waitForDisk(options: WaitOptions): Promise<Disk> {
  const seen = present();
  const deadline = Date.now() + options.timeoutMs;
  options.log.info(`plug in the USB stick (at least ${formatBytes(options.atLeast)}): waiting up to ${Math.round(options.timeoutMs / 1000)} s for a new disk… (Ctrl-C to stop)`);
  for (;;) {
    if (options.signal.aborted) throw options.signal.reason;
    for (const key of present()) {
      if (seen.has(key)) continue;
      seen.add(key);
      const name = key.slice(0, key.indexOf("@"));
      let disk: Disk;
      try {
        disk = await judgeDisk(`/dev/${name}`);
      } catch {
        continue; // gone again, or no device node yet: the next poll sees it under a new key if it comes back
      }
      const why = !mayWrite(disk.verdict, options.force) ? disk.reason : disk.size < options.atLeast ? `smaller than the image (${formatBytes(disk.size)} < ${formatBytes(options.atLeast)})` : undefined;
      if (why === undefined) {
        options.log.info(`found ${disk.path}: ${describe(disk)}`);
        if (!options.accept || (await options.accept(disk))) return disk;
        options.log.info(`not ${disk.path}: still waiting for another disk… (Ctrl-C to stop)`);
        continue;
      }
      options.log.warn(`${disk.path} appeared (${describe(disk)}) but cannot be written: ${why}. Still waiting.`);
    }
    if (Date.now() > deadline) throw new FlkError(`no writable disk appeared within ${Math.round(options.timeoutMs / 1000)} s. Nothing was written.`, "E_NO_DEVICE");
    await Bun.sleep(options.everyMs ?? 250);
  }
}
