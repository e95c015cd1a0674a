/**
 * `flk disk DEVICE` as a library: judge the disk (core's one judge, as for
 * `flk write`), plan the manual's layout or find the host's disko, confirm,
 * then run the steps as one script and report what blkid read back.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkHost, claimDisk, FlkError, formatBytes, isFlkError, judgeDisk, nixInfo, type Flk } from "../../core/index.ts";
import type { Step } from "./hooks.ts";
import { planLayout, parseSize, type Boot, type Layout } from "./layout.ts";
import { layoutSteps } from "./disk-steps.ts";
import { identityStep } from "./disk-probe.ts";
import { checkDiskoDevice, diskoSteps, readDisko, type DiskoHost } from "./disko.ts";
import { renderScript } from "./script.ts";
import { localTransport, type Transport } from "./transport.ts";
import { runSteps, type RanStep } from "./run.ts";
import { installerOptions } from "./options.ts";
import { readLiveRecord } from "./live-record.ts";

/** What `flk disk` was asked to do. */
export interface DiskOptions {
  device: string;
  host?: string;
  boot?: Boot;
  /** `--swap SIZE` as typed. */
  swap?: string;
  dryRun?: boolean;
  /** Where the firmware is read (tests): `<firmware>/efi` exists on UEFI. */
  firmware?: string;
  /** Ask on the terminal (default: stdin and stderr are terminals). */
  interactive?: boolean;
  /** /etc/flk/live.json (tests point it elsewhere). */
  liveRecord?: string;
}

/** The disk as judged: what the confirmation names. */
export interface DiskFacts {
  path: string;
  size: number;
  model: string | null;
  serial: string | null;
  sectorSize: number;
  /** Kernel name and `major:minor`, with what proves an opened fd is this disk (judged on this machine). */
  name?: string;
  dev?: string;
  diskseq?: string;
  backingInode?: string;
  /** Judged on another machine (install --target): not claimable here; the script proves its identity first. */
  remote?: boolean;
}

/** The result, also the `flk disk --json` document. */
export interface DiskReport {
  device: string;
  size: number;
  model: string | null;
  boot: Boot;
  /** Why this boot mode: `--boot`, or the firmware flk runs on. */
  bootFrom: "flag" | "firmware";
  /** The manual's layout, or null when the host's disko runs instead. */
  layout: Layout | null;
  disko: { host: string; disks: Record<string, string | null>; script: string | null } | null;
  /** Every disk erased: DEVICE, and with disko every disk its layout names (each judged). */
  erases: Array<Pick<DiskFacts, "path" | "size" | "model">>;
  dryRun: boolean;
  steps: RanStep[];
  script: string;
}

/** The plan for one disk: steps and what they make (shared with `flk install --disk`). */
export interface DiskPlan {
  layout: Layout | null;
  disko: DiskoHost | null;
  steps: Step[];
}

/** Plan the disk: the host's disko when it has one, else the manual's layout. Pure apart from asking nix about the host. */
export async function planDisk(flk: Flk, disk: DiskFacts, boot: Boot, options: { host?: string; swap?: string; site?: string; prebuilt?: string }): Promise<DiskPlan> {
  const config = installerOptions.of(flk);
  const swap = options.swap === undefined ? 0 : parseSize(options.swap);
  if (options.host && options.site) {
    const disko = await readDisko(options.site, options.host);
    if (disko) {
      if (options.swap !== undefined) flk.logger("installer").warn(`--swap is ignored: ${options.host}'s disko layout decides the swap.`);
      checkDiskoDevice(disko, disk.path, (p) => (existsSync(p) ? realpathSync(p) : p));
      if (options.prebuilt) disko.script = options.prebuilt;
      return { layout: null, disko, steps: diskoSteps(disko, (await nixInfo()).flags) };
    }
  }
  const layout = planLayout({ device: disk.path, size: disk.size, sectorSize: disk.sectorSize, boot, swap, labels: config.labels });
  return { layout, disko: null, steps: [...(disk.remote && disk.dev ? [identityStep(disk)] : []), ...layoutSteps(layout)] };
}

/** Judge, plan, confirm and (unless dryRun) write. Throws FlkError: 2 refused (nothing written), 1 failed. */
export async function disk(flk: Flk, options: DiskOptions): Promise<DiskReport> {
  // The host name before the disk is looked at (core/hosts.ts: hosts/, else nixosConfigurations).
  if (options.host) await checkHost(flk, options.host);
  const judged = await judge(options.device);
  const firmware = options.firmware ?? "/sys/firmware";
  const boot: Boot = options.boot ?? (existsSync(join(firmware, "efi")) ? "uefi" : "bios");
  const site = options.host ? flk.siteRoot() : undefined;
  const live = options.host ? readLiveRecord(options.liveRecord) : undefined;
  const prebuilt = live && live.host === options.host ? (live.diskoScript ?? undefined) : undefined;
  const plan = await planDisk(flk, judged, boot, { host: options.host, swap: options.swap, site, prebuilt });
  // A disko script formats every disk its layout names, not only DEVICE: each one is judged and named.
  const erased = plan.disko ? await judgeDiskoDisks(plan.disko, judged) : [judged];
  const config = installerOptions.of(flk);
  const script = renderScript(plan.steps, "install", { title: `flk disk ${judged.path}`, root: config.root, store: "/nix/store", guards: [], cwd: "/" });
  const report: DiskReport = {
    device: judged.path,
    size: judged.size,
    model: judged.model,
    boot,
    bootFrom: options.boot ? "flag" : "firmware",
    layout: plan.layout,
    disko: plan.disko ? { host: plan.disko.host, disks: plan.disko.disks, script: plan.disko.script ?? null } : null,
    erases: erased.map((d) => ({ path: d.path, size: d.size, model: d.model })),
    dryRun: Boolean(options.dryRun),
    steps: plan.steps.map((s) => ({ ...s, status: "planned" })),
    script,
  };
  if (options.dryRun) return report;
  await confirmDisk(flk, erased, options.interactive ?? Boolean(process.stdin.isTTY && process.stderr.isTTY));
  // Check, then prove: a disk may have been mounted while the question waited; judged again, then claimed
  // (O_EXCL, as flk write opens) so a disk the kernel holds is refused here, not by sfdisk halfway.
  // The claim proves the opened disk is the one confirmed (number, diskseq, loop backing), not merely whatever is at its path now.
  for (const d of erased) {
    await judge(d.path);
    claim(d);
  }
  await execute(flk, localTransport(), report);
  return report;
}

/** Every disk a disko layout names, judged (DEVICE first, each disk once); a disk without a device set is refused. */
async function judgeDiskoDisks(disko: DiskoHost, first: DiskFacts): Promise<DiskFacts[]> {
  const unset = Object.entries(disko.disks).filter(([, device]) => typeof device !== "string").map(([name]) => name);
  if (unset.length)
    throw new FlkError(`${disko.host}'s disko layout does not say which device disko.devices.disk.${unset.join(", disk.")} is: flk cannot judge a disk it cannot name. Nothing was written. Set its device in the host's configuration.`, "E_DISKO_DEVICE");
  const out = [first];
  for (const device of Object.values(disko.disks) as string[]) {
    const d = await judge(device, `${disko.host}'s disko layout formats ${device} too`);
    if (!out.some((o) => o.dev === d.dev)) out.push(d);
  }
  return out;
}

/** Claim a locally judged disk (core's claimDisk): exit 2 when the kernel says it is busy. */
export function claim(d: DiskFacts): void {
  if (d.dev !== undefined && !d.remote) claimDisk({ path: d.path, name: d.name!, dev: d.dev, diskseq: d.diskseq, backingInode: d.backingInode });
}

/**
 * The one judge (core/disks.ts); anything but a free disk is a refusal that
 * says why. A path may be relative (`../stick`, a link to the disk): it is
 * resolved and the node it names is judged, as `flk write` does. A bare name
 * is not a path: `sda` is refused with "did you mean /dev/sda?".
 */
export async function judge(device: string, context?: string): Promise<DiskFacts> {
  if (!device.includes("/")) {
    const dev = `/dev/${device}`;
    throw new FlkError(`'${device}' is not a path.${existsSync(dev) ? ` Did you mean ${dev}?` : ""} Nothing was written. Name the whole disk, e.g. /dev/sda (see \`flk devices\`).`, "E_USAGE");
  }
  const d = await judgeDisk(resolve(device));
  if (d.verdict === "refused") throw new FlkError(`refusing to partition ${d.path}${context ? ` (${context})` : ""}: ${d.reason}. Nothing was written.`, "E_DISK_REFUSED");
  return { path: d.path, size: d.size, model: d.model, serial: d.serial, sectorSize: sectorSize(d.name), name: d.name, dev: d.dev, diskseq: d.diskseq, backingInode: d.backingInode };
}

function sectorSize(name: string): number {
  try {
    return Number(readFileSync(`/sys/block/${name}/queue/logical_block_size`, "utf8").trim()) || 512;
  } catch {
    return 512;
  }
}

/** "disk /dev/sda (Samsung SSD 870, 465.8 GiB)" */
export function describeDisk(d: Pick<DiskFacts, "path" | "model" | "size">, where?: string): string {
  return `${d.path}${where ? ` on ${where}` : ""} (${d.model ?? "unknown model"}, ${formatBytes(d.size)})`;
}

/**
 * On a terminal the operator types the disk's name (`sda` or `/dev/sda`)
 * after seeing every disk that will be erased, with model and size; without
 * one, `--yes` is the only answer.
 */
export async function confirmDisk(flk: Flk, disks: Pick<DiskFacts, "path" | "model" | "size"> | Array<Pick<DiskFacts, "path" | "model" | "size">>, interactive: boolean, where?: string): Promise<void> {
  const all = Array.isArray(disks) ? disks : [disks];
  const d = all[0]!;
  const name = d.path.replace(/^\/dev\//, "");
  const what = all.map((x) => describeDisk(x, where)).join(" and ");
  if (flk.flags.yes) {
    flk.logger("installer").warn(`--yes: erasing ${what}`);
    return;
  }
  if (!interactive)
    throw new FlkError(`flk disk erases everything on ${what}, and there is no terminal to confirm on. Nothing was written. Add --yes to confirm non-interactively.`, "E_CONFIRM");
  let answer: unknown;
  try {
    answer = await flk.logger("installer").prompt(`Everything on ${what} will be lost. Type '${name}' to confirm`, { type: "text", cancel: "null" });
  } catch (error) {
    if (isFlkError(error)) throw error;
    answer = null;
  }
  if (typeof answer !== "string" || (answer.trim() !== name && answer.trim() !== d.path))
    throw new FlkError(`not confirmed (expected '${name}'): nothing was written to ${all.map((x) => x.path).join(", ")}.`, "E_CONFIRM");
}

async function execute(flk: Flk, transport: Transport, report: DiskReport): Promise<void> {
  const result = await runSteps(flk, transport, report.script, report.steps, `interrupted: flk disk ${report.device} was stopped and has exited; the disk may be partly written: run flk disk again to start over.`);
  if (result.ok) return;
  const failed = report.steps.find((s) => s.status === "failed");
  throw new FlkError(
    `flk disk ${report.device}: ${failed ? `the step '${failed.id}' (${failed.title}) failed (exit ${result.code})` : `the script stopped early (exit ${result.code})`}. ` +
      `${report.steps.some((s) => s.status === "ran" || s.status === "failed") ? "The disk may be partly written: run flk disk again to start over." : "Nothing was written."}`,
    failed ? "E_STEP_FAILED" : "E_PLAN_STOPPED",
    1,
  );
}
