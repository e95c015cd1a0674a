import { definePlugin } from "../../core/index.ts";

/** nix-iso: `flk hosts`, `flk iso HOST`: the bespoke live-installer ISO. */
export default definePlugin({
  name: "nix-iso",
  description: "Build the live installer ISO of a host (flk hosts, flk iso)",
  options: {
    hosts: { type: "string", default: "hosts", description: "Directory of hosts/*.nix (default.nix excluded)" },
    copyTo: { type: "string", default: "/iso/devos", description: "Where the flake source appears on the live system" },
  },
  requires: { programs: { nix: "building the ISO" } },
  apply() {},
});
