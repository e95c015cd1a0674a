import { definePlugin } from "../../core/index.ts";

/** installer: `flk install HOST`: mount by label, overlay the store, nixos-install. */
export default definePlugin({
  name: "installer",
  description: "Mount by label and run nixos-install, here or over ssh (flk install)",
  options: {
    root: { type: "string", default: "/mnt", description: "Where the target root is mounted" },
    labels: { type: "table", default: { root: "nixos", boot: "boot", swap: "swap" }, description: "Filesystem labels of root, boot and swap" },
  },
  requires: { programs: { blkid: "finding filesystems by label", mount: "mounting the target" }, root: "flk install" },
  apply() {},
});
