import { definePlugin } from "../../core/index.ts";
import { devicesCommand } from "./commands/devices.ts";
import { writeCommand } from "./commands/write.ts";

/** dd-writer: `flk write`, `flk devices`: flash the ISO safely, durably, verified. */
export default definePlugin({
  name: "dd-writer",
  description: "Write the ISO to a USB stick safely and verify it (flk write, flk devices)",
  options: {
    verify: { type: "boolean", default: true, description: "Read the device back and compare after writing" },
  },
  requires: {
    // zstd, gzip and xz are needed only for compressed images; flk write names the missing one when it is.
    programs: { lsblk: "listing block devices" },
    root: "flk write to a device",
  },
  apply(flk, options) {
    flk.hooks.commands.tap("dd-writer", (registry) => {
      registry.add("write", writeCommand(flk, options.verify), { aliases: ["dd"], plugin: "dd-writer" });
      registry.add("devices", devicesCommand(flk), { plugin: "dd-writer" });
    });
  },
});
