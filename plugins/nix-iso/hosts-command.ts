/** `flk hosts`: the site's hosts (thin: the listing is siteHosts()). */
import { defineCommand, type Flk } from "../../core/index.ts";
import { siteHosts } from "./hosts.ts";

/** The `hosts` command. */
export function hostsCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "hosts", description: "List the site's hosts (hosts/*.nix without default.nix, and hosts/NAME/default.nix)" },
    run() {
      const hosts = siteHosts(flk);
      if (flk.flags.json) return flk.printJson(hosts);
      if (hosts.length === 0) flk.logger("nix-iso").warn(`no hosts in ${flk.siteRoot()}`);
      for (const host of hosts) process.stdout.write(`${host.name.padEnd(16)} ${host.file}\n`);
    },
  });
}
