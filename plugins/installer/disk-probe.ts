/**
 * `flk install --disk` over `--target`: the disk is on the live installer,
 * so its facts come back through the probe (sysfs, every mount namespace's
 * mountinfo, swaps) and the one judge, core's `assess`, runs on that view
 * here — the same verdict as on this machine. One limit: a loop device's
 * backing file is stat'ed on this machine, so over ssh a loop chain is
 * compared by its recorded path only (live installers do not target loop
 * devices in practice).
 */
import { assess, FlkError, type SysBlock, type SystemView } from "../../core/index.ts";
import { shQuote } from "./script.ts";
import type { DiskFacts } from "./disk.ts";

/** Probe lines that describe `device` and every block device (read-only, POSIX sh). */
export function diskProbeLines(device: string): string[] {
  return [
    `real=$(readlink -f -- ${shQuote(device)}); echo "disk-path $real"`,
    'for b in /sys/class/block/*; do n=${b##*/}; [ -r "$b/dev" ] || continue',
    '  p=-; [ -e "$b/partition" ] && p=$(basename "$(readlink -f "$b/..")")',
    '  echo "sysblock $n $(cat "$b/dev") $(cat "$b/size") $(cat "$b/ro" 2>/dev/null || echo 0) $(cat "$b/removable" 2>/dev/null || cat "$b/../removable" 2>/dev/null || echo 0) $(cat "$b/queue/logical_block_size" 2>/dev/null || echo 512) $p"',
    '  for h in "$b"/holders/*; do [ -e "$h" ] && echo "sysholder $n ${h##*/}"; done',
    '  for s in "$b"/slaves/*; do [ -e "$s" ] && echo "sysslave $n ${s##*/}"; done',
    '  [ -r "$b/loop/backing_file" ] && echo "sysbacking $n $(cat "$b/loop/backing_file")"',
    '  [ -r "$b/device/model" ] && echo "sysmodel $n $(cat "$b/device/model")"',
    "done",
    // Every mount namespace counts (a mount made in another namespace keeps the disk busy).
    "cat /proc/[0-9]*/mountinfo 2>/dev/null | awk '{ print \"sysmount \" $3 \" \" $5 }' | sort -u",
    "sed 1d /proc/swaps | while read -r s _; do echo \"sysswap $(stat -L -c %t:%T \"$s\" 2>/dev/null)\"; done",
  ];
}

/** The view of the probed machine, and the disk's kernel name. */
export function parseDiskProbe(output: string): { path: string; view: SystemView; models: Map<string, string> } {
  const blocks = new Map<string, SysBlock>();
  const mounts = new Map<string, string[]>();
  const swaps = new Set<string>();
  const models = new Map<string, string>();
  let path = "";
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const [key, ...words] = line.split(" ");
    const rest = words.join(" ");
    if (key === "disk-path") path = rest;
    else if (key === "sysblock" && words.length >= 7) {
      const [name, dev, size, ro, removable, lbs, parent] = words as [string, string, string, string, string, string, string];
      blocks.set(name, { name, dev, size: Number(size) * 512, readOnly: ro === "1", removable: removable === "1", logicalBlockSize: Number(lbs) || 512, partitions: [], holders: [], slaves: [], ...(parent !== "-" ? { parent } : {}) });
    } else if (key === "sysholder" && words.length === 2) blocks.get(words[0]!)?.holders.push(words[1]!);
    else if (key === "sysslave" && words.length === 2) blocks.get(words[0]!)?.slaves.push(words[1]!);
    else if (key === "sysbacking" && words.length >= 2) { const b = blocks.get(words[0]!); if (b) b.backingFile = words.slice(1).join(" "); }
    else if (key === "sysmodel" && words.length >= 2) models.set(words[0]!, words.slice(1).join(" ").trim());
    else if (key === "sysmount" && words.length >= 2) {
      const points = mounts.get(words[0]!) ?? [];
      points.push(words.slice(1).join(" ").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
      mounts.set(words[0]!, points);
    } else if (key === "sysswap" && /^[0-9a-f]+:[0-9a-f]+$/i.test(rest)) {
      const [maj, min] = rest.split(":").map((h) => parseInt(h, 16));
      swaps.add(`${maj}:${min}`);
    }
  }
  for (const b of blocks.values()) if (b.parent) blocks.get(b.parent)?.partitions.push(b.name);
  return { path, view: { blocks, usage: { mounts, swaps }, remote: true }, models };
}

/** Judge the probed disk with core's `assess`; refused → exit 2 naming where. */
export function judgeProbed(device: string, output: string, where: string): DiskFacts {
  const { path, view, models } = parseDiskProbe(output);
  const name = path.replace(/^.*\//, "");
  const block = view.blocks.get(name);
  if (!path || !block)
    throw new FlkError(`--disk ${device}: no such block device on ${where}${path && path !== device ? ` (it resolves to ${path})` : ""}. Nothing was written. List the disks there with \`lsblk\`.`, "E_TARGET_MISSING");
  const { verdict, reason } = assess(name, view);
  if (verdict === "refused") throw new FlkError(`refusing to partition ${path} on ${where}: ${reason}. Nothing was written.`, "E_DISK_REFUSED");
  return { path, size: block.size, model: models.get(name) || null, serial: null, sectorSize: block.logicalBlockSize };
}
