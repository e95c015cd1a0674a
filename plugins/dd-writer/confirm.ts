/**
 * Questions to the operator. Nothing is ever picked or confirmed silently:
 * without a terminal a question becomes a refusal that names the flag to use.
 */
import type { ConsolaInstance } from "consola";
import { basename } from "node:path";
import { FlkError, formatBytes, isLoop, mayWrite, type Disk } from "../../core/index.ts";

/** How flk may ask. */
export interface Asker {
  /** stdin and stderr are terminals. */
  interactive: boolean;
  /** --yes: answer prompts with their default (never implies --force). */
  yes: boolean;
  log: ConsolaInstance;
}

/** "SanDisk Ultra (serial 4C53…, usb), 28.7 GiB"; a loop device: "loop device backed by /srv/stick.img, 1.0 GiB" */
export function describe(d: Pick<Disk, "model" | "serial" | "transport" | "size" | "backing">): string {
  const extra = [d.serial ? `serial ${d.serial}` : null, d.transport].filter(Boolean).join(", ");
  return `${modelOf(d)}${extra ? ` (${extra})` : ""}, ${formatBytes(d.size)}`;
}

/**
 * What the disk is, for the operator: its model, else a loop device's backing
 * file (a loop device has no model, and "unknown model" would not tell two of
 * them apart), with control characters escaped (a file name is anyone's text).
 */
function modelOf(d: Pick<Disk, "model" | "backing">): string {
  if (d.model) return d.model;
  if (d.backing) return `loop device backed by ${d.backing.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}`;
  return "unknown model";
}

/**
 * A non-removable disk: needs --force, then the operator types the disk's
 * name after seeing model, serial and size. --yes answers for them.
 */
export async function confirmNonRemovable(row: Disk, force: boolean, ask: Asker): Promise<void> {
  const name = row.path.replace(/^\/dev\//, "");
  // A loop device over a block device needs --force for what it stands on (the judge's reason says which device).
  const why = isLoop(row.name) ? `${row.reason ?? "a loop device over a block device"}` : `a non-removable disk (${describe(row)}), probably internal`;
  if (!force) throw new FlkError(`refusing to write to ${row.path}: ${why}. Nothing was written. If you really mean it, add --force.`, "E_NOT_REMOVABLE");
  if (ask.yes) {
    ask.log.warn(`--force --yes: writing to non-removable disk ${row.path} (${describe(row)})`);
    return;
  }
  if (!ask.interactive)
    throw new FlkError(`${row.path} is a non-removable disk (${describe(row)}) and there is no terminal to confirm on. Nothing was written. Add --yes to confirm non-interactively.`, "E_CONFIRM");
  const answer = await ask.log.prompt(`${row.path} is a NON-REMOVABLE disk: ${describe(row)}. Everything on it will be lost. Type '${name}' to confirm`, { type: "text", cancel: "null" });
  if (typeof answer !== "string" || answer.trim() !== name)
    throw new FlkError(`not confirmed (expected '${name}'): nothing was written to ${row.path}.`, "E_CONFIRM");
}

/** A removable disk: a yes/no question on a terminal; --yes or no terminal (a script named the device) proceeds. */
export async function confirmRemovable(row: Disk, image: string, ask: Asker): Promise<void> {
  if (ask.yes || !ask.interactive) return;
  const ok = await ask.log.prompt(`Erase ${row.path} (${describe(row)}) and write ${image}?`, { type: "confirm", initial: false, cancel: "null" });
  if (ok !== true) throw new FlkError(`not confirmed: nothing was written to ${row.path}.`, "E_CONFIRM");
}

/** One table line per device, for lists in messages. */
export function deviceTable(rows: Disk[]): string {
  return rows.map((r) => `  ${r.path.padEnd(14)} ${formatBytes(r.size).padStart(10)}  ${(r.model ?? "-").padEnd(20)} ${r.verdict}${r.reason ? `: ${r.reason}` : ""}`).join("\n");
}

/** What the picker says about the image it will write. */
export interface PickedImage {
  path: string;
  /** Bytes that go to the device (a lower bound when the size is not recorded). */
  atLeast: number;
  /** Why the operator should look twice (a stale result/), shown above the question. */
  warning?: string;
}

/**
 * No DEVICE given: offer the candidates in a prompt, or refuse listing them.
 * Never picks on its own. It names the image it will write, offers only
 * disks the judge allows that are large enough, and then asks
 * "erase /dev/sdX (model, size)? [y/N]" (a non-removable disk, offered only
 * with --force, gets the typed-name confirmation instead).
 */
export async function chooseDevice(rows: Disk[], image: PickedImage, force: boolean, ask: Asker): Promise<{ path: string; confirmed: boolean } | "wait"> {
  const big = (r: Disk) => r.size >= image.atLeast;
  const candidates = rows.filter((r) => mayWrite(r.verdict, force) && r.type !== "part" && big(r));
  const shownRows = rows.map((r) => (mayWrite(r.verdict, force) && !big(r) ? { ...r, reason: `smaller than the image (${formatBytes(r.size)} < ${formatBytes(image.atLeast)})` } : r));
  const listing = rows.length ? deviceTable(shownRows) : "  (no block devices)";
  // Nothing to offer on a terminal: "plug in the USB stick" (wait.ts) instead of a dead end.
  if (ask.interactive && !ask.yes && candidates.length === 0) return "wait";
  if (!ask.interactive || ask.yes || candidates.length === 0)
    throw new FlkError(
      `no DEVICE given, and flk never picks a disk by itself. ${candidates.length ? "Name one" : "No disk can be written right now"}:\n${listing}\nThen run: flk write ${image.path} /dev/sdX`,
      "E_NO_DEVICE",
    );
  // The picker offers only writable disks: say which others exist and why not,
  // so a stick that is, say, still mounted does not silently go missing.
  const others = shownRows.filter((r) => !candidates.some((c) => c.path === r.path));
  if (others.length) ask.log.info(`not offered:\n${deviceTable(others)}`);
  if (image.warning) ask.log.warn(image.warning);
  const name = `${image.path} (${formatBytes(image.atLeast)})`;
  ask.log.info(`image: ${name}`);
  const answer = await ask.log.prompt(`Write ${basename(image.path)} to which device?`, {
    type: "select",
    options: [
      ...candidates.map((r) => ({ value: r.path, label: `${r.path}  ${describe(r)}` })),
      // No removable disk among them (loop devices, internal disks with --force): a stick may not be plugged in yet.
      ...(candidates.some((r) => r.removable) ? [] : [{ value: WAIT, label: "none of these: wait for a USB stick to be plugged in" }]),
      { value: "", label: "cancel" },
    ],
    cancel: "null",
  });
  const chosen = typeof answer === "string" ? answer : (answer as { value?: string } | null)?.value;
  if (chosen === WAIT) return "wait";
  if (!chosen) throw new FlkError("no device chosen: nothing was written.", "E_NO_DEVICE");
  const row = candidates.find((r) => r.path === chosen)!;
  if (row.verdict === "needs-force") return { path: chosen, confirmed: false };
  await confirmErase(row, ask);
  return { path: chosen, confirmed: true };
}

const WAIT = "\0wait";

/** "erase /dev/sdX (model, size)? [y/N]": only y or yes goes on. */
export async function confirmErase(row: Disk, ask: Asker): Promise<void> {
  if (!(await askErase(row, ask))) throw new FlkError(`not confirmed: nothing was written to ${row.path}.`, "E_CONFIRM");
}

/** The same question as a yes/no; Escape or Ctrl-C at it (no answer at all) still ends flk write. */
export async function askErase(row: Disk, ask: Asker): Promise<boolean> {
  const answer = await ask.log.prompt(`erase ${row.path} (${modelOf(row)}, ${formatBytes(row.size)})? [y/N]`, { type: "text", cancel: "null" });
  if (typeof answer !== "string") throw new FlkError(`not confirmed: nothing was written to ${row.path}.`, "E_CONFIRM");
  return /^(y|yes)$/i.test(answer.trim());
}

/** A stale default image: on a terminal "write it anyway? [y/N]"; without one (or with --yes, whose default is no) exit 2. */
export async function confirmStale(warning: string, ask: Asker): Promise<void> {
  if (!ask.interactive || ask.yes) throw new FlkError(`${warning} Nothing was written.`, "E_IMAGE_STALE");
  ask.log.warn(warning);
  const answer = await ask.log.prompt("write it anyway? [y/N]", { type: "text", cancel: "null" });
  if (typeof answer !== "string" || !/^(y|yes)$/i.test(answer.trim())) throw new FlkError("not confirmed: nothing was written.", "E_CONFIRM");
}
