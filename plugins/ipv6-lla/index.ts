import { addCommands, definePlugin, liveInstaller, mergeSettings } from "../../core/index.ts";
import { DEFAULT_ADDRESS } from "./explain.ts";
import { staticAddress } from "./ipv6.ts";

/** ipv6-lla: fe80::47 and EUI-64 link-local addresses on the live ISO; `flk lla`. */
export default definePlugin({
  name: "ipv6-lla",
  description: "Static fe80::47 and EUI-64 link-local addresses (flk lla)",
  options: {
    address: { type: "string", default: DEFAULT_ADDRESS, description: "Static link-local address of the live ISO (n=14 i=9 x=24; 47 = n+i+x)" },
    eui64: { type: "boolean", default: true, description: "Also derive the link-local address from the MAC (EUI-64)" },
  },
  requires: { programs: { ip: "reading the neighbour table", ping: "waking neighbours on ff02::1" } },
  apply(flk, options) {
    const log = flk.logger("ipv6-lla");
    // Checked when used, so a bad address only stops what needs it (not `flk write`).
    const where = `${flk.configFile ?? "flk.toml"}: [ipv6-lla] address`;
    const address = () => staticAddress(options.address, where);
    addCommands(flk, "ipv6-lla", {
      lla: { load: () => import("./commands/lla.ts").then((m) => m.llaCommand(flk, address)), description: "IPv6 link-local: EUI-64 addresses, discover the live installer on the link, explain fe80::47" },
    });
    // The static address, canonical (RFC 5952): known_hosts, ssh and the ISO all see this one text.
    flk.hooks.liveInstaller.tap("ipv6-lla", (live) => ({ ...live, staticAddress: address() }));
    // Taps import their code when called: this file is loaded on every start-up, `flk --help` included (bench/startup.ts).
    flk.hooks.isoModule.tapPromise("ipv6-lla", async (module, host) => {
      const { llaNotes, llaSettings } = await import("./iso.ts");
      const live = liveInstaller(flk, host.host);
      const settings = { address: live.staticAddress ?? address(), eui64: options.eui64, network: live.network };
      return { ...module, settings: mergeSettings(module.settings, llaSettings(settings)), notes: [...module.notes, ...llaNotes(settings)] };
    });
    // mdns taps at stage -10, so its answer is preferred (core/reach.ts races them).
    flk.hooks.locate.tapPromise("ipv6-lla", async (query) =>
      (await import("./locate.ts")).locateOnLink(query, { address: query.live.staticAddress ?? address(), eui64: options.eui64, signal: query.signal, warn: (line) => log.warn(line) }),
    );
  },
});
