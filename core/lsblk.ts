/**
 * How a disk describes itself (model, serial, transport), from lsblk: sysfs
 * has no serial for USB mass storage, lsblk asks udev's database or the
 * SCSI VPD pages for it.
 */
import { basename } from "node:path";
import { FlkError } from "./errors.ts";
import { runChecked } from "./exec.ts";

/** The lsblk columns flk reads (lsblk(8) `-o`). */
export const LSBLK_COLUMNS = "NAME,KNAME,PATH,TYPE,SIZE,RO,RM,MODEL,SERIAL,TRAN,MOUNTPOINTS,FSTYPE,PKNAME";

/** One device as lsblk reports it (fields we use). */
export interface LsblkDevice {
  kname: string;
  path: string;
  type: string;
  size: number;
  model: string | null;
  serial: string | null;
  tran: string | null;
}

/**
 * Parse `lsblk --json --bytes --paths` output, flattening partitions
 * (`children`). Strings are trimmed: lsblk pads MODEL with spaces on some
 * devices (SCSI INQUIRY data is space-padded).
 */
export function parseLsblk(text: string): LsblkDevice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new FlkError(`lsblk printed something that is not JSON (${(error as Error).message})`, "E_LSBLK", 1);
  }
  const list = (parsed as { blockdevices?: unknown })?.blockdevices;
  if (!Array.isArray(list)) throw new FlkError("lsblk --json output has no `blockdevices` list", "E_LSBLK", 1);
  const out: LsblkDevice[] = [];
  const walk = (items: unknown[]) => {
    for (const raw of items) {
      if (typeof raw !== "object" || raw === null) continue;
      const d = raw as Record<string, unknown>;
      const path = str(d.path) ?? str(d.name);
      if (!path) continue;
      out.push({ kname: basename(str(d.kname) ?? path), path, type: str(d.type) ?? "disk", size: Number(d.size) || 0, model: str(d.model), serial: str(d.serial), tran: str(d.tran) });
      if (Array.isArray(d.children)) walk(d.children);
    }
  };
  walk(list);
  return out;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

/** Run lsblk for all devices, or for the given device paths. */
export async function lsblk(paths: string[] = []): Promise<LsblkDevice[]> {
  return parseLsblk(await runChecked(["lsblk", "--json", "--bytes", "--paths", "-o", LSBLK_COLUMNS, ...paths]));
}
