import { definePlugin } from "../../core/index.ts";

/** dd-writer: `flk write`, `flk devices`: flash the ISO safely, durably, verified. */
export default definePlugin({
  name: "dd-writer",
  description: "Write the ISO to a USB stick safely and verify it (flk write, flk devices)",
  options: {
    verify: { type: "boolean", default: true, description: "Read the device back and compare after writing" },
  },
  requires: { programs: { lsblk: "listing block devices" }, root: "flk write to a device" },
  apply() {},
});
