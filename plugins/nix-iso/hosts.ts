/**
 * Hosts of the site (hosts/*.nix minus default.nix, and hosts/NAME/default.nix),
 * and picking the ones a command names.
 */
import { FlkError, didYouMean, listHosts, type Flk, type HostEntry } from "../../core/index.ts";
import type { NixIsoOptions } from "./options.ts";

/** The site's hosts, sorted, from the configured hosts directory. */
export function siteHosts(flk: Flk): HostEntry[] {
  const options = flk.options<NixIsoOptions>("nix-iso");
  return listHosts(flk.siteRoot(), options.hosts);
}

/** The hosts named on the command line (or all with `all`); unknown names are refused. */
export function pickHosts(hosts: HostEntry[], names: readonly string[], all: boolean, hostsDir: string): HostEntry[] {
  if (hosts.length === 0)
    throw new FlkError(`there are no hosts: no ${hostsDir}/*.nix (other than default.nix) and no ${hostsDir}/NAME/default.nix in this site. Add one, e.g. ${hostsDir}/NixOS.nix.`, "E_NO_HOSTS");
  if (all) {
    if (names.length > 0) throw new FlkError(`give host names or --all, not both (got --all and ${names.join(", ")})`, "E_USAGE");
    return hosts;
  }
  if (names.length === 0) throw new FlkError(`name a host to build, or --all. Hosts: ${hosts.map((h) => h.name).join(", ")}.`, "E_USAGE");
  const byName = new Map(hosts.map((h) => [h.name, h]));
  return [...new Set(names)].map((name) => {
    const host = byName.get(name);
    if (host) return host;
    throw new FlkError(
      `unknown host '${name}': there is no ${hostsDir}/${name}.nix or ${hostsDir}/${name}/default.nix.${didYouMean(name, byName.keys())} Hosts: ${[...byName.keys()].join(", ")}.`,
      "E_UNKNOWN_HOST",
    );
  });
}
