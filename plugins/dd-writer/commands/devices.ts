/** `flk devices`: block devices with a verdict each. */
import { defineCommand, formatBytes, type Flk } from "../../../core/index.ts";
import { describe } from "../confirm.ts";
import { listDevices } from "../devices.ts";

/** The citty command. */
export function devicesCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "devices", description: "List block devices and whether flk write would write to them" },
    args: {},
    async run() {
      const rows = await listDevices();
      if (flk.flags.json) return flk.printJson(rows);
      if (rows.length === 0) return void process.stdout.write("no block devices\n");
      for (const r of rows)
        process.stdout.write(`${r.path.padEnd(14)} ${formatBytes(r.size).padStart(10)}  ${r.verdict.padEnd(11)} ${describe(r)}${r.reason ? `\n${" ".repeat(15)}${r.reason}` : ""}\n`);
    },
  });
}
