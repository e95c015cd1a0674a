/** nix-iso's options (`[nix-iso]` in flk.toml): declared once, read typed through `nixIsoOptions.of(flk)`. */
import { ownOptions } from "../../core/index.ts";

export const nixIsoOptions = ownOptions({
  hosts: { type: "string", default: "hosts", description: "Directory of hosts/*.nix (default.nix excluded)" },
  copyTo: { type: "string", default: "/iso/devos", description: "Where the flake source appears on the live system" },
});
