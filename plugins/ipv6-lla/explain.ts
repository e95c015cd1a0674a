/**
 * `flk lla explain` as a library: why fe80::47, and the ssh command that
 * reaches the live installer on each local link.
 */
import { LIVE_USER, withScope } from "../../core/index.ts";
import { unusable, type LinkInfo } from "./links.ts";

/** The default static address and how to remember it. */
export const DEFAULT_ADDRESS = "fe80::47";
export const MNEMONIC = "n=14 i=9 x=24; 47 = n+i+x (the letters of \"nix\" by their place in the alphabet)";

/** What `flk lla explain --json` prints. */
export interface Explanation {
  address: string;
  mnemonic: string;
  /** One ssh command per usable interface; a link-local address needs its interface as `%scope`. */
  commands: { iface: string; command: string }[];
}

/** The explanation for `address` over `links` (unusable links are left out). */
export function explain(address: string, links: LinkInfo[], user = LIVE_USER): Explanation {
  const usable = links.filter((link) => !unusable(link));
  return {
    address,
    mnemonic: MNEMONIC,
    commands: usable.map((link) => ({ iface: link.name, command: `ssh ${user}@${withScope(address, link.name)}` })),
  };
}

/** The human text of an explanation. */
export function renderExplanation(e: Explanation): string {
  const lines = [
    `The live installer answers at the static link-local address ${e.address} on every wired, wireless and WWAN link.`,
    e.address === DEFAULT_ADDRESS ? `Remember it as ${e.mnemonic}.` : `(flk's default is ${DEFAULT_ADDRESS}: ${MNEMONIC}; this site uses ${e.address}.)`,
    "A link-local address is only unique per link, so name the interface after '%':",
    "",
    ...(e.commands.length > 0 ? e.commands.map((c) => `  ${c.command}`) : ["  (no interface is up with an IPv6 link-local address here: plug in a cable, then `ip link`)"]),
    "",
    `Two live sticks on one link both claim ${e.address}; each still has its EUI-64 address, derived from its MAC:`,
    "  flk lla discover          lists the neighbours, flags the static and EUI-64 ones, and reports collisions",
    "  flk lla eui64 MAC         prints the EUI-64 link-local address of a MAC",
  ];
  return lines.join("\n");
}
