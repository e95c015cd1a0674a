/**
 * `flk install --disk` over `--target`: the disk is on the live installer,
 * so its facts come back through the probe (sysfs, every mount namespace's
 * mountinfo, swaps) and the one judge, core's `assess`, runs on that view
 * here — the same verdict as on this machine. One limit: a loop device's
 * backing file is stat'ed on this machine, so over ssh a loop chain is
 * compared by its recorded path only (live installers do not target loop
 * devices in practice). What proves the disk is still the judged one later
 * is recorded too, as core's proveOpened compares it on this machine: the
 * device number, the disk sequence number (a re-attached loop device or a
 * swapped stick keeps its number but gets a new diskseq) and a loop
 * device's backing file identity (`major:minor:inode`).
 */
import { assess, FlkError, targetChanged, type SysBlock, type SystemView } from "../../core/index.ts";
import { shQuote } from "./script.ts";
import type { DiskFacts } from "./disk.ts";
import type { Step } from "./hooks.ts";

/** sh: the identity of the backing file of the loop device whose sysfs directory is `dir` (a shell word), `major:minor:inode`; empty when its name is gone. */
function backingId(dir: string): string {
  return `stat -L -c %Hd:%Ld:%i -- "$(cat ${dir}/loop/backing_file)" 2>/dev/null`;
}

/** Probe lines that describe `device` and every block device (read-only, POSIX sh). */
export function diskProbeLines(device: string): string[] {
  return [
    `real=$(readlink -f -- ${shQuote(device)}); echo "disk-path $real"`,
    // The node's device number, as the kernel will see it when sfdisk opens it: a node made with mknod anywhere counts by number, not by name.
    `[ -b ${shQuote(device)} ] && echo "disk-rdev $(stat -L -c %t:%T -- ${shQuote(device)})"`,
    'for b in /sys/class/block/*; do n=${b##*/}; [ -r "$b/dev" ] || continue',
    '  p=-; [ -e "$b/partition" ] && p=$(basename "$(readlink -f "$b/..")")',
    '  echo "sysblock $n $(cat "$b/dev") $(cat "$b/size") $(cat "$b/ro" 2>/dev/null || echo 0) $(cat "$b/removable" 2>/dev/null || cat "$b/../removable" 2>/dev/null || echo 0) $(cat "$b/queue/logical_block_size" 2>/dev/null || echo 512) $p"',
    '  for h in "$b"/holders/*; do [ -e "$h" ] && echo "sysholder $n ${h##*/}"; done',
    '  for s in "$b"/slaves/*; do [ -e "$s" ] && echo "sysslave $n ${s##*/}"; done',
    '  [ -r "$b/diskseq" ] && echo "sysseq $n $(cat "$b/diskseq")"',
    '  [ -r "$b/loop/backing_file" ] && echo "sysbacking $n $(cat "$b/loop/backing_file")"',
    // The backing file's identity as core's Disk.backingInode spells it (GNU stat's %Hd:%Ld: major:minor of its filesystem).
    `  [ -r "$b/loop/backing_file" ] && echo "sysbackid $n $(${backingId('"$b"')})"`,
    '  [ -r "$b/device/model" ] && echo "sysmodel $n $(cat "$b/device/model")"',
    "done",
    // Every mount namespace counts (a mount made in another namespace keeps the disk busy).
    "cat /proc/[0-9]*/mountinfo 2>/dev/null | awk '{ print \"sysmount \" $3 \" \" $5 }' | sort -u",
    "sed 1d /proc/swaps | while read -r s _; do echo \"sysswap $(stat -L -c %t:%T \"$s\" 2>/dev/null)\"; done",
    // The devices of every mounted btrfs (core's Usage.members): mountinfo names only one of them.
    'for d in /sys/fs/btrfs/*/devices/*; do [ -e "$d" ] || continue; u=${d%/devices/*}; echo "sysbtrfs ${u##*/} ${d##*/}"; done',
  ];
}

/** The view of the probed machine, and the disk's kernel name. */
export function parseDiskProbe(output: string): { path: string; rdev?: string; view: SystemView; models: Map<string, string>; backingIds: Map<string, string> } {
  const blocks = new Map<string, SysBlock>();
  const mounts = new Map<string, string[]>();
  const swaps = new Set<string>();
  const models = new Map<string, string>();
  const btrfs = new Map<string, string[]>();
  const backingIds = new Map<string, string>();
  let path = "";
  let rdev: string | undefined;
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const [key, ...words] = line.split(" ");
    const rest = words.join(" ");
    if (key === "disk-path") path = rest;
    else if (key === "disk-rdev" && /^[0-9a-f]+:[0-9a-f]+$/i.test(rest)) rdev = rest.split(":").map((h) => parseInt(h, 16)).join(":");
    else if (key === "sysblock" && words.length >= 7) {
      const [name, dev, size, ro, removable, lbs, parent] = words as [string, string, string, string, string, string, string];
      blocks.set(name, { name, dev, size: Number(size) * 512, readOnly: ro === "1", removable: removable === "1", logicalBlockSize: Number(lbs) || 512, partitions: [], holders: [], slaves: [], ...(parent !== "-" ? { parent } : {}) });
    } else if (key === "sysholder" && words.length === 2) blocks.get(words[0]!)?.holders.push(words[1]!);
    else if (key === "sysslave" && words.length === 2) blocks.get(words[0]!)?.slaves.push(words[1]!);
    else if (key === "sysbacking" && words.length >= 2) { const b = blocks.get(words[0]!); if (b) b.backingFile = words.slice(1).join(" "); }
    else if (key === "sysseq" && words.length === 2 && /^\d+$/.test(words[1]!)) { const b = blocks.get(words[0]!); if (b) b.diskseq = words[1]; }
    else if (key === "sysbackid" && words.length === 2 && /^\d+:\d+:\d+$/.test(words[1]!)) backingIds.set(words[0]!, words[1]!);
    else if (key === "sysmodel" && words.length >= 2) models.set(words[0]!, words.slice(1).join(" ").trim());
    else if (key === "sysmount" && words.length >= 2) {
      const points = mounts.get(words[0]!) ?? [];
      points.push(words.slice(1).join(" ").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
      mounts.set(words[0]!, points);
    } else if (key === "sysbtrfs" && words.length === 2) {
      const devices = btrfs.get(words[0]!) ?? [];
      devices.push(words[1]!);
      btrfs.set(words[0]!, devices);
    } else if (key === "sysswap" && /^[0-9a-f]+:[0-9a-f]+$/i.test(rest)) {
      const [maj, min] = rest.split(":").map((h) => parseInt(h, 16));
      swaps.add(`${maj}:${min}`);
    }
  }
  for (const b of blocks.values()) if (b.parent) blocks.get(b.parent)?.partitions.push(b.name);
  const members = new Map([...btrfs].flatMap(([uuid, devices]) => devices.map((d) => [d, { fs: "btrfs", uuid, devices }] as const)));
  return { path, rdev, view: { blocks, usage: { mounts, swaps, members }, remote: true }, models, backingIds };
}

/**
 * Judge the probed disk with core's `assess`, by the same rules as on this
 * machine: a bare name is not a path ("did you mean /dev/sda?"); a path is
 * resolved there and identified by its device number (stat on the live
 * side), so a link or a node made with mknod is judged as the disk it
 * really opens; the steps then name that disk's canonical /dev/NAME.
 * Refused → exit 2 naming where.
 */
export function judgeProbed(device: string, output: string, where: string): DiskFacts {
  const { path, rdev, view, models, backingIds } = parseDiskProbe(output);
  if (!device.includes("/"))
    throw new FlkError(`--disk '${device}' is not a path.${view.blocks.has(device) ? ` Did you mean /dev/${device}?` : ""} Nothing was written. Name the whole disk on ${where}, e.g. /dev/sda (list them there with \`lsblk\`).`, "E_USAGE");
  if (!device.startsWith("/"))
    throw new FlkError(`--disk ${device}: over --target, name the disk by its absolute path on ${where} (a relative one would be read from the ssh login's directory there). Nothing was written.`, "E_USAGE");
  const block = rdev ? [...view.blocks.values()].find((b) => b.dev === rdev) : undefined;
  if (!path || !rdev || !block)
    throw new FlkError(`--disk ${device}: no such block device on ${where}${path && path !== device ? ` (it resolves to ${path})` : ""}${rdev ? ` (device ${rdev}, which the kernel there does not list)` : ""}. Nothing was written. List the disks there with \`lsblk\`.`, "E_TARGET_MISSING");
  const name = block.name;
  const canonical = `/dev/${name}`;
  const { verdict, reason } = assess(name, view);
  const named = canonical === device ? canonical : `${canonical} (--disk ${device})`;
  if (verdict === "refused") throw new FlkError(`refusing to partition ${named} on ${where}: ${reason}. Nothing was written.`, "E_DISK_REFUSED");
  const backingInode = backingIds.get(name);
  return { path: canonical, size: block.size, model: models.get(name) || null, serial: null, sectorSize: block.logicalBlockSize, name, dev: rdev, remote: true, ...(block.diskseq ? { diskseq: block.diskseq } : {}), ...(backingInode ? { backingInode } : {}) };
}

/**
 * After the confirmation (which may have waited for minutes), the disk
 * judged again from a new probe must be the same disk: the same number,
 * diskseq and loop backing file. A disk mounted meanwhile is refused by
 * judgeProbed itself. Throws E_TARGET_CHANGED / E_DISK_REFUSED (exit 2).
 */
export function rejudgeProbed(judged: DiskFacts, device: string, output: string, where: string, again: string): DiskFacts {
  const now = judgeProbed(device, output, where);
  const shown = `${judged.path} on ${where}`;
  if (now.dev !== judged.dev) throw targetChanged(shown, `judged ${judged.dev} (${judged.path}), it is ${now.dev} (${now.path}) now`, again);
  if (judged.diskseq !== now.diskseq) throw targetChanged(shown, `judged ${judged.path} with diskseq ${judged.diskseq ?? "?"}, it has diskseq ${now.diskseq ?? "?"} now: re-attached or another medium`, again);
  if (judged.backingInode !== now.backingInode) throw targetChanged(shown, `judged ${judged.path} backed by inode ${judged.backingInode ?? "?"}, it is backed by inode ${now.backingInode ?? "?"} now`, again);
  return now;
}

/**
 * Over ssh flk cannot hold the disk open between the judgement and the
 * write, so the script's first step proves that /dev/NAME is still the
 * judged device number before anything is written there.
 */
export function identityStep(disk: Pick<DiskFacts, "path" | "dev" | "name" | "diskseq" | "backingInode">): Step {
  const [major, minor] = disk.dev!.split(":").map(Number) as [number, number];
  const hex = `${major.toString(16)}:${minor.toString(16)}`;
  const sys = `/sys/class/block/${disk.name ?? disk.path.replace(/^\/dev\//, "")}`;
  // $1 path, $2 number (hex, as stat prints it), $3 its sysfs dir, $4 diskseq, $5 backing identity ("" = not recorded).
  const check = [
    '[ -b "$1" ] && [ "$(stat -L -c %t:%T -- "$1")" = "$2" ]',
    '{ [ -z "$4" ] || [ "$(cat "$3/diskseq" 2>/dev/null)" = "$4" ]; }',
    `{ [ -z "$5" ] || [ "$(${backingId('"$3"')})" = "$5" ]; }`,
  ].join(" && ");
  const seen = `${disk.dev}${disk.diskseq ? `, diskseq ${disk.diskseq}` : ""}${disk.backingInode ? `, backing inode ${disk.backingInode}` : ""}`;
  return {
    id: "disk-identity",
    title: `check that ${disk.path} is still the judged disk (${seen})`,
    argv: ["sh", "-c", `${check} || { echo "flk: $1 is not the judged disk ($6) any more: nothing was written" >&2; exit 1; }`, "disk-identity", disk.path, hex, sys, disk.diskseq ?? "", disk.backingInode ?? "", seen],
  };
}
