import { addCommands, definePlugin } from "../../core/index.ts";
import { installerOptions } from "./options.ts";

/** installer: `flk install HOST`: mount by label, overlay the store, nixos-install. */
export default definePlugin({
  name: "installer",
  description: "Mount by label and run nixos-install, here or over ssh (flk install)",
  options: installerOptions.schema,
  requires: {
    programs: { blkid: "finding filesystems by label", mount: "mounting the target", findmnt: "checking what is mounted", swapon: "swap on the target" },
    root: "flk install",
    install: { "nixos-install": "the NixOS live installer (it ships nixos-install); boot the ISO that `flk iso` built" },
  },
  apply(flk, options) {
    installerOptions.keep(flk, options);
    // nixos-facter on the stick when the host uses it (iso.ts), for --hardware-config.
    flk.hooks.isoModule.tapPromise("installer", async (module) => (await import("./iso.ts")).contributeIso(module));
    addCommands(flk, "installer", {
      install: { load: () => import("./command.ts").then((m) => m.installCommand(flk)), description: "Mount by label, overlay the store, nixos-install the system the stick carries (--system) or --flake SITE#HOST, here or --target over ssh" },
      disk: { load: () => import("./disk-command.ts").then((m) => m.diskCommand(flk)), description: "Wipe, partition and format a disk: the host's disko layout, else the NixOS manual's, labelled for flk install" },
    });
  },
});
