/**
 * `flk devices`: every block device lsblk lists, with model, serial,
 * transport from lsblk and a verdict from assess.ts.
 */
import { basename } from "node:path";
import { FlkError, runChecked } from "../../core/index.ts";
import { assess, type SystemView, type Verdict } from "./assess.ts";
import { readSysBlocks, readUsage } from "./sysfs.ts";

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

/** One row of `flk devices --json` (the shape DESIGN.md fixes, plus `transport` and `type`). */
export interface DeviceRow {
  path: string;
  size: number;
  model: string | null;
  serial: string | null;
  removable: boolean;
  transport: string | null;
  type: string;
  verdict: Verdict;
  reason: string | null;
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

/** This system's view: sysfs, mounts and swaps. */
export function systemView(): SystemView {
  return { blocks: readSysBlocks(), usage: readUsage() };
}

/** Every block device with its verdict; writable ones first, then needs-force, then refused. */
export async function listDevices(view: SystemView = systemView()): Promise<DeviceRow[]> {
  const rows = (await lsblk()).map((d) => deviceRow(d, view));
  const rank: Record<Verdict, number> = { writable: 0, "needs-force": 1, refused: 2 };
  return rows.sort((a, b) => rank[a.verdict] - rank[b.verdict] || a.path.localeCompare(b.path, "en", { numeric: true }));
}

/** Combine lsblk's description with the verdict for one device. */
export function deviceRow(d: LsblkDevice, view: SystemView): DeviceRow {
  const { verdict, reason } = assess(d.kname, view);
  const block = view.blocks.get(d.kname);
  return {
    path: d.path,
    size: block?.size ?? d.size,
    model: d.model,
    serial: d.serial,
    removable: block?.removable ?? false,
    transport: d.tran,
    type: d.type,
    verdict,
    reason,
  };
}
