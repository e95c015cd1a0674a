import { LIVE_USER, addCommands, definePlugin, liveInstaller, withScope, type Flk } from "../../core/index.ts";
import { join } from "node:path";
import { hostKeyMismatch, isHostKeyMismatch, noPinnedHost, unpinnedWarning } from "./mismatch.ts";

const PLUGIN = "ssh-keys";

/** ssh-keys: authorized keys into the ISO, a pinned host key, and `flk ssh`. */
export default definePlugin({
  name: PLUGIN,
  description: "Authorized keys and a pinned host key in the ISO (flk keys, flk ssh)",
  options: {
    users: { type: "string[]", default: [LIVE_USER], description: "Live-system users that get the keys (add \"root\" if needed)" },
    keyFiles: { type: "string[]", default: [], description: "Extra site-relative public key files" },
    pinHostKey: { type: "boolean", default: true, description: "Give the live ISO a fixed sshd host key (kept in your state dir) that flk ssh verifies" },
  },
  requires: { programs: { ssh: "flk ssh", "ssh-keygen": "host keys" } },
  apply(flk, options) {
    const log = flk.logger(PLUGIN);
    // One flk run plans one build (maybe of many hosts): each warning once.
    const warned = new Set<string>();
    const warnOnce = (message: string) => {
      if (warned.has(message)) return;
      warned.add(message);
      log.warn(message);
    };
    addCommands(flk, PLUGIN, {
      keys: { load: () => import("./commands/keys.ts").then((m) => m.keysCommand(flk, options)), description: "Public keys that may log in to the live installer (add, list, rm)" },
      ssh: {
        load: () => import("./commands/ssh.ts").then((m) => m.sshCommand(flk, options)),
        description: "Log in to HOST's live installer (found by mDNS / fe80::47 / EUI-64), host key pinned; -- ARGS go to ssh",
        json: false,
      },
    });
    // Taps import their code when called: this file is loaded on every start-up, `flk --help` included (bench/startup.ts).
    flk.hooks.isoModule.tapPromise(PLUGIN, async (module, host) => (await import("./iso.ts")).contributeIso(module, host, { ...options, linkLocal: linkLocalOf(flk, host.host), env: flk.env }, warnOnce));
    flk.hooks.prepareIso.tapPromise(PLUGIN, async (host) =>
      (await import("./iso.ts")).prepareHostKey(host, { pinHostKey: options.pinHostKey, alias: liveInstaller(flk, host.host).hostKeyAlias, linkLocal: linkLocalOf(flk, host.host), env: flk.env, cwd: flk.cwd, log: { info: (m) => log.info(m), warn: warnOnce, success: (m) => log.success(m) } }),
    );
    // The one home of the pinning rule for every login (flk ssh, flk install --target, --undo): core's reach() asks this tap each time.
    flk.hooks.sshOptions.tapPromise(PLUGIN, async (sshOptions, target) => {
      const destination = `${target.user}@${withScope(target.endpoint.address, target.endpoint.scope)}`;
      if (!options.pinHostKey) {
        warnOnce(unpinnedWarning(target.host, destination));
        return sshOptions;
      }
      // An address alone names no host, so no pinned key: flk will not let ssh trust whatever answers there.
      if (!target.host) throw noPinnedHost(destination);
      // Pinning is on: the site's known_hosts is the only truth. No file, or no key in it, is a refusal here,
      // never ssh's first-use prompt or ~/.ssh/known_hosts. Read and checked only: flk ssh writes nothing.
      const site = flk.siteRoot();
      const alias = liveInstaller(flk, target.host).hostKeyAlias;
      const { knownHostsFile, pinnedSshOptions, requirePinnedKeys } = await import("./hostkey.ts");
      requirePinnedKeys(site, target.host, alias, destination);
      return [...sshOptions, ...pinnedSshOptions(join(site, knownHostsFile(target.host)), alias)];
    });
    // flk install --target's failures: a host key that is not the pinned one is said as flk ssh says it.
    flk.hooks.sshFailed.tap(PLUGIN, (stderr, failure) => (options.pinHostKey && isHostKeyMismatch(stderr) ? hostKeyMismatch(failure.host, failure.destination) : undefined));
  },
});

/** The live installer's static address, RFC 5952 canonical, from core's description (ipv6-lla fills it); "" when none is configured. */
function linkLocalOf(flk: Flk, host: string): string {
  return liveInstaller(flk, host).staticAddress ?? "";
}
