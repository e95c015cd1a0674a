/** `flk devices`: block devices with a verdict each (the core disk judge). */
import { defineCommand, formatBytes, listDisks, type Disk, type Flk } from "../../../core/index.ts";
import { describe } from "../confirm.ts";

/** One row of `flk devices --json` (the shape DESIGN.md fixes, plus `transport`, `type` and a loop device's `backing` file). */
export function deviceJson(d: Disk) {
  return { path: d.path, size: d.size, model: d.model, serial: d.serial, removable: d.removable, transport: d.transport, type: d.type, verdict: d.verdict, reason: d.reason, backing: d.backing ?? null };
}

/** The citty command. */
export function devicesCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "devices", description: "List block devices and whether flk write would write to them" },
    args: {},
    async run() {
      const rows = await listDisks();
      if (flk.flags.json) return flk.printJson(rows.map(deviceJson));
      if (rows.length === 0) return void process.stdout.write("no block devices\n");
      for (const r of rows)
        process.stdout.write(`${r.path.padEnd(14)} ${formatBytes(r.size).padStart(10)}  ${r.verdict.padEnd(11)} ${describe(r)}${r.backing && r.model ? `, backed by ${r.backing}` : ""}${r.reason ? `\n${" ".repeat(15)}${r.reason}` : ""}\n`);
    },
  });
}
