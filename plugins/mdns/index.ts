import { addCommands, definePlugin, liveInstaller, mergeSettings } from "../../core/index.ts";
import { mdnsNote, mdnsSettings } from "./iso.ts";
import { locateByMdns } from "./locate.ts";

/** mdns: the live ISO announces HOST.local; `flk resolve` finds it. */
export default definePlugin({
  name: "mdns",
  description: "Announce HOST.local from the live ISO and resolve it (flk resolve)",
  options: {
    backend: { type: "string", default: "resolved", enum: ["resolved", "avahi"], description: "mDNS responder on the live ISO" },
  },
  apply(flk, options) {
    const log = flk.logger("mdns");
    addCommands(flk, "mdns", {
      resolve: { load: () => import("./commands/resolve.ts").then((m) => m.resolveCommand(flk)), description: "Find NAME.local by one-shot mDNS (A and AAAA) on every multicast interface" },
    });
    flk.hooks.isoModule.tapPromise("mdns", async (module, host) => ({
      ...module,
      settings: mergeSettings(module.settings, mdnsSettings(options.backend, liveInstaller(flk, host.host).network)),
      notes: [...module.notes, mdnsNote(options.backend, host.host)],
    }));
    // stage -10: core/reach.ts prefers mDNS's answer over ipv6-lla's fe80::47 and EUI-64 (DESIGN.md "Hooks").
    flk.hooks.locate.tapPromise({ name: "mdns", stage: -10 }, (query) =>
      locateByMdns(query, { signal: query.signal, debug: (line) => log.debug(line) }),
    );
  },
});
