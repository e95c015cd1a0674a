import { addCommands, definePlugin, liveInstaller, mergeSettings } from "../../core/index.ts";

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
    // Taps import their code when called: this file is loaded on every start-up, `flk --help` included (bench/startup.ts).
    flk.hooks.isoModule.tapPromise("mdns", async (module, host) => {
      const { mdnsNote, mdnsSettings } = await import("./iso.ts");
      return {
        ...module,
        settings: mergeSettings(module.settings, mdnsSettings(options.backend, liveInstaller(flk, host.host).network)),
        notes: [...module.notes, mdnsNote(options.backend, host.host)],
      };
    });
    // stage -10: core/reach.ts prefers mDNS's answer over ipv6-lla's fe80::47 and EUI-64 (DESIGN.md "Hooks").
    flk.hooks.locate.tapPromise({ name: "mdns", stage: -10 }, async (query) =>
      (await import("./locate.ts")).locateByMdns(query, { signal: query.signal, debug: (line) => log.debug(line) }),
    );
  },
});
