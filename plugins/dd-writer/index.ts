import { addCommands, definePlugin } from "../../core/index.ts";

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
    // Loaded when run (DESIGN.md: `flk write` does not build the other commands).
    addCommands(flk, "dd-writer", {
      write: {
        load: () => import("./commands/write.ts").then((m) => m.writeCommand(flk, options.verify)),
        description: "Flash an image to a USB stick: safety checks, durable writes, read-back verify",
        aliases: ["dd"],
      },
      devices: { load: () => import("./commands/devices.ts").then((m) => m.devicesCommand(flk)), description: "List block devices and whether flk write would write to them" },
    });
  },
});
