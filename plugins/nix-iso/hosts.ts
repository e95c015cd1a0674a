/**
 * Hosts of the site, and picking the ones `flk iso` names. Host names are
 * core's (core/hosts.ts: hosts/ as the fast path, else the flake's
 * nixosConfigurations); `--all` is every configuration the flake can build.
 */
import { checkHosts, flakeHostNames, FlkError, listHosts, type Flk, type HostEntry, type SiteFlake } from "../../core/index.ts";
import { nixIsoOptions } from "./options.ts";

/** The site's hosts from the configured hosts directory, sorted; dangling symlinks are skipped with a warning. */
export function siteHosts(flk: Flk): HostEntry[] {
  const options = nixIsoOptions.of(flk);
  const log = flk.logger("nix-iso");
  return listHosts(flk.siteRoot(), options.hosts, (file, why) => log.warn(`skipping ${file}: ${why}`));
}

/**
 * The hosts named on the command line (or all with `all`), checked before
 * anything is built: unknown names are refused (exit 2) with a did-you-mean.
 */
export async function pickHosts(
  flk: Flk,
  flake: SiteFlake,
  names: readonly string[],
  all: boolean,
  env?: Record<string, string | undefined>,
): Promise<string[]> {
  const hostsDir = nixIsoOptions.of(flk).hosts;
  if (all) {
    if (names.length > 0) throw new FlkError(`give host names or --all, not both (got --all and ${names.join(", ")})`, "E_USAGE");
    // Every host the flake can build: a hosts/ file without a configuration is no host to build.
    const every = [...(await flakeHostNames(flake, env))].sort();
    if (every.length === 0) throw noHosts(hostsDir);
    return every;
  }
  if (names.length === 0) {
    const files = siteHosts(flk).map((h) => h.name);
    if (files.length === 0) throw noHosts(hostsDir);
    throw new FlkError(`name a host to build, or --all. Hosts: ${files.join(", ")}.`, "E_USAGE");
  }
  const wanted = [...new Set(names)];
  await checkHosts(flk, wanted, { flake, env });
  return wanted;
}

function noHosts(hostsDir: string): FlkError {
  return new FlkError(
    `there are no hosts: the flake has no nixosConfigurations, and there is no ${hostsDir}/*.nix (other than default.nix) or ${hostsDir}/NAME/default.nix. Add one, e.g. ${hostsDir}/NixOS.nix.`,
    "E_NO_HOSTS",
  );
}
