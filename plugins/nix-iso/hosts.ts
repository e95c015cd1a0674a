/**
 * Hosts of the site, and picking the ones a command names. Host names are
 * the flake's `nixosConfigurations`; hosts/*.nix (minus default.nix) and
 * hosts/NAME/default.nix are the fast path: a name found there needs no
 * evaluation, any other name is looked up in nixosConfigurations.
 */
import { FlkError, listHosts, resolveHost, type Flk, type HostEntry, type NixInfo } from "../../core/index.ts";
import { flakeHosts, type SiteFlake } from "./flake.ts";
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
  info: NixInfo,
  names: readonly string[],
  all: boolean,
  env?: Record<string, string | undefined>,
): Promise<string[]> {
  const hostsDir = nixIsoOptions.of(flk).hosts;
  const files = siteHosts(flk).map((h) => h.name);
  if (all) {
    if (names.length > 0) throw new FlkError(`give host names or --all, not both (got --all and ${names.join(", ")})`, "E_USAGE");
    // Every host the flake can build: a hosts/ file without a configuration is no host to build.
    const every = [...(await flakeHosts(flake, info, env))].sort();
    if (every.length === 0) throw noHosts(hostsDir);
    return every;
  }
  if (names.length === 0) {
    if (files.length === 0) throw noHosts(hostsDir);
    throw new FlkError(`name a host to build, or --all. Hosts: ${files.join(", ")}.`, "E_USAGE");
  }
  const wanted = [...new Set(names)];
  if (wanted.every((name) => files.includes(name))) return wanted;
  const configurations = await flakeHosts(flake, info, env);
  for (const name of wanted) resolveHost(flk.siteRoot(), name, { hostsDir, configurations });
  return wanted;
}

function noHosts(hostsDir: string): FlkError {
  return new FlkError(
    `there are no hosts: the flake has no nixosConfigurations, and there is no ${hostsDir}/*.nix (other than default.nix) or ${hostsDir}/NAME/default.nix. Add one, e.g. ${hostsDir}/NixOS.nix.`,
    "E_NO_HOSTS",
  );
}
