import { definePlugin } from "../../core/index.ts";
import { installCommand } from "./command.ts";
import { diskCommand } from "./disk-command.ts";

/** installer: `flk install HOST`: mount by label, overlay the store, nixos-install. */
export default definePlugin({
  name: "installer",
  description: "Mount by label and run nixos-install, here or over ssh (flk install)",
  options: {
    root: { type: "string", default: "/mnt", description: "Where the target root is mounted" },
    labels: { type: "table", default: { root: "nixos", boot: "boot", swap: "swap" }, description: "Filesystem labels of root, boot and swap" },
    liveFlake: { type: "string", default: "/iso/devos", description: "The site's copy on the live installer (nix-iso copyTo), used over ssh and when no site is found" },
  },
  requires: {
    programs: { blkid: "finding filesystems by label", mount: "mounting the target", findmnt: "checking what is mounted", swapon: "swap on the target" },
    root: "flk install",
  },
  apply(flk) {
    flk.hooks.commands.tap("installer", (registry) => {
      registry.add("install", installCommand(flk), { plugin: "installer" });
      registry.add("disk", diskCommand(flk), { plugin: "installer" });
    });
  },
});
