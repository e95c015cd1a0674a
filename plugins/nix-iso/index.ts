import { addCommands, definePlugin } from "../../core/index.ts";
import { nixIsoOptions } from "./options.ts";

/**
 * nix-iso: `flk hosts`, `flk iso HOST`: the bespoke live-installer ISO.
 * It seeds the `isoModule` waterfall with its own module (installer import,
 * hostName, the site copy, store contents, volume id), lets every enabled
 * plugin add to it, renders it once and builds it with nix.
 */
export default definePlugin({
  name: "nix-iso",
  description: "Build the live installer ISO of a host (flk hosts, flk iso)",
  options: nixIsoOptions.schema,
  requires: { programs: { nix: "building the ISO", git: "seeing which files a git flake tracks (only those reach the stick)" } },
  apply(flk, options) {
    nixIsoOptions.keep(flk, options);
    flk.hooks.hostsDir.tap("nix-iso", () => options.hosts);
    addCommands(flk, "nix-iso", {
      hosts: { load: () => import("./hosts-command.ts").then((m) => m.hostsCommand(flk)), description: "List the site's hosts (hosts/*.nix without default.nix, and hosts/NAME/default.nix)" },
      iso: { load: () => import("./iso-command.ts").then((m) => m.isoCommand(flk)), description: "Build the live installer ISO of a host (nix build over nixosConfigurations.HOST.extendModules)" },
    });
  },
});
