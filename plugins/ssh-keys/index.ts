import { definePlugin, isFlkError, type Flk } from "../../core/index.ts";
import { keysCommand } from "./commands/keys.ts";
import { sshCommand } from "./commands/ssh.ts";
import { contributeIso } from "./iso.ts";
import { pinnedSshOptions, writeKnownHosts } from "./hostkey.ts";

const PLUGIN = "ssh-keys";

/** The live installer's static link-local address (DESIGN.md: fe80::47), unless ipv6-lla's config says otherwise. */
const DEFAULT_LINK_LOCAL = "fe80::47";

/** ssh-keys: authorized keys into the ISO, a pinned host key, and `flk ssh`. */
export default definePlugin({
  name: PLUGIN,
  description: "Authorized keys and a pinned host key in the ISO (flk keys, flk ssh)",
  options: {
    users: { type: "string[]", default: ["nixos"], description: "Live-system users that get the keys (add \"root\" if needed)" },
    keyFiles: { type: "string[]", default: [], description: "Extra site-relative public key files" },
    pinHostKey: { type: "boolean", default: true, description: "Give the live ISO a fixed sshd host key that flk ssh verifies" },
  },
  requires: { programs: { ssh: "flk ssh", "ssh-keygen": "host keys" } },
  apply(flk, options) {
    const log = flk.logger(PLUGIN);
    flk.hooks.commands.tap(PLUGIN, (registry) => {
      registry.add("keys", keysCommand(flk, options), { plugin: PLUGIN });
      registry.add("ssh", sshCommand(flk), { plugin: PLUGIN });
    });
    flk.hooks.isoModule.tapPromise(PLUGIN, (module, host) =>
      contributeIso(module, host, { ...options, linkLocal: linkLocalOf(flk) }, (message) => log.warn(message)),
    );
    flk.hooks.sshOptions.tapPromise(PLUGIN, async (sshOptions, target) => {
      const site = options.pinHostKey ? siteOrUndefined(flk) : undefined;
      if (!site) return sshOptions;
      const knownHosts = writeKnownHosts(site, target.host, linkLocalOf(flk));
      return knownHosts ? [...sshOptions, ...pinnedSshOptions(knownHosts, target.host)] : sshOptions;
    });
  },
});

/** ipv6-lla's configured static address, read from the shared config (not from the plugin). */
function linkLocalOf(flk: Flk): string {
  if (!flk.registry.get("ipv6-lla")) return DEFAULT_LINK_LOCAL;
  const address = flk.options<{ address?: unknown }>("ipv6-lla").address;
  return typeof address === "string" && address !== "" ? address : DEFAULT_LINK_LOCAL;
}

/** The site root, or undefined when flk runs outside a site (then nothing is pinned). */
function siteOrUndefined(flk: Flk): string | undefined {
  try {
    return flk.siteRoot();
  } catch (error) {
    if (isFlkError(error)) return undefined;
    throw error;
  }
}
