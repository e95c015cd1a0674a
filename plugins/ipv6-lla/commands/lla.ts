/** `flk lla`: the parent of eui64, discover and explain. */
import { defineCommand, type Flk } from "../../../core/index.ts";
import { discoverCommand } from "./discover.ts";
import { eui64Command } from "./eui64.ts";
import { explainCommand } from "./explain.ts";

/** The `lla` command; `address` yields the checked static address (it throws on a bad flk.toml value, only when used). */
export function llaCommand(flk: Flk, address: () => string) {
  return defineCommand({
    meta: { name: "lla", description: "IPv6 link-local: EUI-64 addresses, discover the live installer on the link, explain fe80::47" },
    subCommands: {
      eui64: eui64Command(flk),
      discover: discoverCommand(flk, address),
      explain: explainCommand(flk, address),
    },
  });
}
