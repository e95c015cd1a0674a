/** `flk disk DEVICE`: thin — parse arguments, call disk(), print. */
import { defineCommand, FlkError, formatBytes, type Flk } from "../../core/index.ts";
import { disk, type DiskReport } from "./disk.ts";
import { shJoin } from "./script.ts";
import type { Boot } from "./layout.ts";

/** `--boot` checked at the edge. */
export function parseBoot(value: unknown): Boot | undefined {
  if (value === undefined || value === "") return undefined;
  if (value === "uefi" || value === "bios") return value;
  throw new FlkError(`--boot: expected uefi or bios, got '${String(value)}'`, "E_USAGE");
}

/** The citty command. */
export function diskCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "disk", description: "Wipe, partition and format a disk: the host's disko layout, else the NixOS manual's, labelled for flk install" },
    args: {
      device: { type: "positional", required: true, description: "The whole disk, e.g. /dev/sda or /dev/nvme0n1", valueHint: "DEVICE" },
      host: { type: "string", description: "Use this host's disko layout when it defines one", valueHint: "HOST" },
      boot: { type: "string", description: "uefi (GPT + ESP) or bios (MBR); default: the firmware flk runs on", valueHint: "uefi|bios" },
      swap: { type: "string", description: "Add a swap partition of this size at the end, e.g. 8G", valueHint: "SIZE" },
      "dry-run": { type: "boolean", description: "Print the sfdisk script and the mkfs commands; write nothing" },
    },
    async run({ args }) {
      const report = await disk(flk, {
        device: args.device as string,
        host: (args.host as string | undefined) || undefined,
        boot: parseBoot(args.boot),
        swap: args.swap as string | undefined,
        dryRun: Boolean(args["dry-run"]),
      });
      if (flk.flags.json) return flk.printJson(report);
      if (report.dryRun) return void process.stdout.write(formatDiskPlan(report));
      flk.logger("installer").success(`${report.device} is ready: ${report.layout ? report.layout.partitions.map((p) => `${p.node} ${p.fs} '${p.label}'`).join(", ") : `${report.disko!.host}'s disko layout`}; next: flk install HOST`);
    },
  });
}

/** A step as the operator reads it: the command, or what a helper shell snippet does. */
function commandLine(step: DiskReport["steps"][number]): string {
  if (step.input !== undefined) return `${shJoin(step.argv)} < (the table above)`;
  if (step.argv[0] === "sh") return step.id === "partitions-appear" ? "udevadm settle; partx -u DISK where a partition node is missing; wait for the nodes" : step.id === "check-labels" ? "blkid -p: each partition's LABEL and TYPE as planned" : shJoin(step.argv.slice(3));
  return shJoin(step.argv);
}

/** The human --dry-run output: the table as an sfdisk script, then the commands. */
export function formatDiskPlan(r: DiskReport): string {
  const lines = [`flk disk ${r.device} (${r.model ?? "unknown model"}, ${formatBytes(r.size)}): ${r.boot} (${r.bootFrom === "flag" ? "--boot" : "from this machine's firmware"}), nothing was written`];
  lines.push(`erases: ${r.erases.map((d) => `${d.path} (${d.model ?? "unknown model"}, ${formatBytes(d.size)})`).join(", ")}`);
  if (r.layout) {
    lines.push(`partition table (sfdisk ${r.device}):`, ...r.layout.sfdisk.trimEnd().split("\n").map((l) => `  ${l}`));
    lines.push("partitions:", ...r.layout.partitions.map((p) => `  ${p.node.padEnd(16)} ${formatBytes(p.bytes).padStart(10)}  ${p.fs.padEnd(5)} label '${p.label}' (${p.role})`));
  } else lines.push(`${r.disko!.host} defines disko: its own layout runs, not the manual's (disks: ${Object.values(r.disko!.disks).join(", ")})`);
  lines.push("steps:", ...r.steps.map((s, i) => `${String(i + 1).padStart(3)}. ${s.title}\n     ${commandLine(s)}`));
  return lines.join("\n") + "\n";
}
