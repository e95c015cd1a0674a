/** The installer's options (`[installer]` in flk.toml): declared once, read typed through `installerOptions.of(flk)`. */
import { ownOptions, type OptionsOf } from "../../core/index.ts";

export const installerOptions = ownOptions({
  root: { type: "string", default: "/mnt", description: "Where the target root is mounted" },
  labels: { type: "table", default: { root: "nixos", boot: "boot", swap: "swap" }, description: "Filesystem labels of root, boot and swap" },
  liveFlake: { type: "string", default: "/iso/devos", description: "The site's copy on the live installer (nix-iso copyTo), used over ssh and when no site is found" },
});

/** The installer's resolved options. */
export type InstallerOptions = OptionsOf<typeof installerOptions.schema>;
