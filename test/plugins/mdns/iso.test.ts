/**
 * mdns's ISO contribution, evaluated by the real nix as NixOS would call
 * the rendered module (test/helpers/live-module.ts), against both shapes of
 * services.resolved: `extraConfig` (24.05–25.11) and `settings` (unstable).
 */
import { describe, expect, test } from "bun:test";
import { LIVE_NETWORK, definePlugin, type FlkPlugin, type IsoModule, type NixValue } from "../../../core/index.ts";
import { testFlk } from "../../helpers/flk.ts";
import mdns from "../../../plugins/mdns/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import { systemTest } from "../../helpers/require.ts";
import { evalModule, firstMatch, hostUnits, moduleSource, winner, type Release } from "../../helpers/live-module.ts";

const empty: IsoModule = { imports: [], settings: {}, files: [], notes: [] };
const host = { host: "NixOS", siteRoot: "/srv/site" };
const withNix = systemTest(["nix-instantiate"], { root: false });

/** A stand-in that writes a conflicting key into the same networkd unit. */
function sharedUnitWriter(networkConfig: Record<string, NixValue>) {
  return definePlugin({
    name: "unit-writer",
    description: "writes into the live unit",
    options: {},
    apply(flk) {
      flk.hooks.isoModule.tapPromise("unit-writer", async (module) => ({
        ...module,
        settings: { ...module.settings, systemd: { network: { networks: { [LIVE_NETWORK.name]: { networkConfig } } } } },
      }));
    },
  });
}

async function isoModule(backend: "resolved" | "avahi", extra: FlkPlugin<any>[] = []): Promise<IsoModule> {
  const flk = testFlk({ plugins: [...extra, mdns], options: { mdns: { backend } } });
  return flk.hooks.isoModule.promise(structuredClone(empty), host);
}

const PATHS = ["services.resolved", "services.avahi", "systemd.network", "networking"];
const evaluate = async (module: IsoModule, release: Release) => evalModule(moduleSource(module.settings), release, PATHS);

describe("the ISO contribution, evaluated by nix", () => {
  for (const release of ["24.05", "25.11", "unstable"] as const)
    withNix(`resolved backend on ${release}: resolved answers mDNS, forced on; avahi forced off even if the host enables it; UDP 5353 open`, async () => {
      const v = await evaluate(await isoModule("resolved"), release);
      const resolved = v["services.resolved"];
      expect(winner(resolved.enable, false).value).toBe(true);
      if (release === "unstable") {
        expect(resolved).not.toHaveProperty("extraConfig");
        expect(winner(resolved.settings.Resolve.MulticastDNS, false).value).toBe(true);
      } else {
        expect(resolved).not.toHaveProperty("settings");
        // lines: ours goes last (mkAfter), and resolved.conf keeps the last assignment of a key.
        expect(resolved.extraConfig).toEqual({ _type: "order", priority: 1500, content: "MulticastDNS=yes" });
      }
      expect(winner(v["services.avahi"].enable, true).value).toBe(false);
      expect(v.networking.firewall.allowedUDPPorts).toContain(5353);
      expect(winner(v.networking.useNetworkd, false).value).toBe(true);
      const unit = v["systemd.network"].networks[LIVE_NETWORK.name];
      expect(unit.networkConfig.MulticastDNS).toBe(true);
    });

  for (const release of ["24.05", "unstable"] as const)
    withNix(`avahi backend on ${release}: avahi publishes, forced on; resolved's responder forced off (never two on 5353)`, async () => {
      const v = await evaluate(await isoModule("avahi"), release);
      const avahi = v["services.avahi"];
      expect(winner(avahi.enable, false).value).toBe(true);
      expect(avahi).toMatchObject({ publish: { enable: true, addresses: true }, nssmdns4: true, openFirewall: true });
      const resolved = v["services.resolved"];
      if (release === "unstable") expect(winner(resolved.settings.Resolve.MulticastDNS, true).value).toBe(false);
      else expect(resolved.extraConfig).toEqual({ _type: "order", priority: 1500, content: "MulticastDNS=no" });
      expect(v["systemd.network"]).toBeNull();
    });

  withNix("with ipv6-lla: one live unit, and networkd applies it to enp3s0, eth0, wlan0 and wwan0 before the host's 40-<iface> and 99-ethernet-default-dhcp", async () => {
    const v = await evaluate(await isoModule("resolved", [ipv6Lla]), "25.11");
    const networks = v["systemd.network"].networks;
    expect(Object.keys(networks)).toEqual([LIVE_NETWORK.name]);
    const all = { ...hostUnits(["enp3s0", "eth0", "wlan0"]), ...networks };
    for (const link of ["enp3s0", "eth0", "wlan0", "wlp2s0", "wwan0"]) expect(firstMatch(all, link)).toBe(LIVE_NETWORK.name);
    const unit = networks[LIVE_NETWORK.name];
    expect(unit.networkConfig).toMatchObject({ MulticastDNS: true, DHCP: "yes", IPv6LinkLocalAddressGenerationMode: "eui64" });
    expect(unit.address).toEqual(["fe80::47/64"]);
  });
});

test("refuses (exit 2) a module where another plugin sets the same networkd key differently", async () => {
  const run = isoModule("resolved", [sharedUnitWriter({ DHCP: "no" })]);
  await expect(run).rejects.toMatchObject({ code: "E_MODULE_CONFLICT", exitCode: 2 });
  await expect(run).rejects.toThrow(`systemd.network.networks.${LIVE_NETWORK.name}.networkConfig.DHCP`);
});

test("the note names HOST.local and the responder", async () => {
  expect((await isoModule("avahi")).notes.join("\n")).toContain("NixOS.local (avahi)");
});
