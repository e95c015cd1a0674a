/**
 * A layout as plan steps: write the table, make the kernel see the
 * partitions, make each filesystem, check each label and type with blkid.
 * Steps are data (the installer's `Step`, hooks.ts), so `flk disk` runs them through the same
 * script and transport as `flk install`, and `flk install --disk` puts them
 * at the front of its one script, here or on a live installer.
 */
import type { Step } from "./hooks.ts";
import type { Layout } from "./layout.ts";

/**
 * After sfdisk the kernel may not list the new partitions: sfdisk's own
 * re-read (BLKRRPART) does nothing on a loop device without partscan or on
 * a kernel without a partition-table parser, and fails on a busy disk. So:
 * wait for udev where it runs (`udevadm settle`), then, for a node still
 * missing, tell the kernel about the partitions from userspace (`partx -u`
 * adds, resizes and drops them per the table, BLKPG; `-a` as a fallback),
 * and wait (devtmpfs makes the node) up to 5 s for each.
 */
const APPEAR = [
  'dev=$1; shift',
  'command -v udevadm >/dev/null 2>&1 && udevadm settle --timeout=10 2>/dev/null',
  'missing=; for p in "$@"; do [ -b "$p" ] || missing=1; done',
  'if [ -n "$missing" ]; then partx -u "$dev" || partx -a "$dev"; command -v udevadm >/dev/null 2>&1 && udevadm settle --timeout=10 2>/dev/null; fi',
  'for p in "$@"; do i=0; while [ ! -b "$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
  '  [ -b "$p" ] || { echo "flk: the kernel shows no $p after partx; is $dev a disk that can hold partitions?" >&2; exit 1; }; done',
].join("\n");

/** Each partition (node, label, type) must read back from blkid as planned, bypassing its cache. */
const CHECK = [
  "bad=0",
  'while [ $# -ge 3 ]; do',
  '  label=$(blkid -c /dev/null -p -s LABEL -o value "$1" 2>/dev/null); type=$(blkid -c /dev/null -p -s TYPE -o value "$1" 2>/dev/null)',
  '  if [ "$label" = "$2" ] && [ "$type" = "$3" ]; then echo "flk: $1: LABEL=$label TYPE=$type" >&2',
  '  else echo "flk: $1 reads back as LABEL=\'$label\' TYPE=\'$type\', expected LABEL=\'$2\' TYPE=\'$3\'" >&2; bad=1; fi',
  "  shift 3",
  "done",
  'exit $bad',
].join("\n");

/** The steps that turn `layout.device` into the layout, ending with the blkid check. */
export function layoutSteps(layout: Layout): Step[] {
  const nodes = layout.partitions.map((p) => p.node);
  const table = layout.table === "gpt" ? "GPT" : "MBR (dos)";
  const steps: Step[] = [
    {
      id: "partition",
      title: `wipe ${layout.device} and write a ${table} table with ${layout.partitions.length} partitions`,
      // --wipe: old filesystem, RAID and table signatures go, on the disk and in each new partition.
      argv: ["sfdisk", "--wipe", "always", "--wipe-partitions", "always", layout.device],
      input: layout.sfdisk,
    },
    { id: "partitions-appear", title: `make the kernel see ${nodes.join(", ")}`, argv: ["sh", "-c", APPEAR, "partitions", layout.device, ...nodes] },
  ];
  for (const [i, p] of layout.partitions.entries())
    steps.push({ id: `mkfs-${p.role}`, title: `make ${p.fs} labelled '${p.label}' on ${p.node}`, argv: layout.mkfs[i]! });
  steps.push({ id: "check-labels", title: "check each label and type with blkid", argv: checkArgv(layout.partitions.map((p) => ({ node: p.node, label: p.label, type: p.fs }))) });
  return steps;
}

/** The blkid check as one argv, for the layout or for what a disko script promises. */
export function checkArgv(expect: Array<{ node: string; label: string; type: string }>): string[] {
  return ["sh", "-c", CHECK, "check-labels", ...expect.flatMap((e) => [e.node, e.label, e.type])];
}
