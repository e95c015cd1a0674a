import { describe, expect, test } from "bun:test";
import { createFlk } from "../../../core/context.ts";
import { LIVE_NETWORK, definePlugin, nix, renderNix, type IsoModule, type NixValue } from "../../../core/index.ts";
import mdns from "../../../plugins/mdns/index.ts";
import { systemTest } from "../../helpers/require.ts";
import { evalNix } from "../../helpers/nix.ts";

const empty: IsoModule = { imports: [], settings: {}, files: [], notes: [] };
const host = { host: "NixOS", siteRoot: "/srv/site" };

/** A stand-in for ipv6-lla: writes its keys into the same networkd unit, as the real plugin does. */
function sharedUnitWriter(networkConfig: Record<string, NixValue>) {
  return definePlugin({
    name: "unit-writer",
    description: "stand-in for ipv6-lla",
    options: {},
    apply(flk) {
      flk.hooks.isoModule.tapPromise("unit-writer", async (module) => ({
        ...module,
        settings: {
          ...module.settings,
          networking: { ...(module.settings.networking as object), useNetworkd: nix.mkForce(true) },
          systemd: { network: { networks: { [LIVE_NETWORK]: { matchConfig: { Name: "en* wl* ww*" }, address: ["fe80::47/64"], networkConfig } } } },
        },
      }));
    },
  });
}

async function isoModule(backend: "resolved" | "avahi", extra: ReturnType<typeof sharedUnitWriter>[] = []): Promise<IsoModule> {
  const names = [...extra.map((p) => p.name), "mdns"];
  const options: Record<string, Record<string, unknown>> = { mdns: { backend } };
  for (const p of extra) options[p.name] = {};
  const flk = createFlk({ plugins: [...extra, mdns], config: { enabled: names, options } });
  return flk.hooks.isoModule.promise(structuredClone(empty), host);
}

describe("the ISO contribution", () => {
  test("resolved backend: networkd unit for en* wl* ww* with MulticastDNS and DHCP, networkd forced on, UDP 5353 open", async () => {
    const { settings, notes } = await isoModule("resolved");
    expect(settings.systemd).toEqual({
      network: { enable: true, networks: { [LIVE_NETWORK]: { matchConfig: { Name: "en* wl* ww*" }, networkConfig: { MulticastDNS: true, DHCP: "yes" } } } },
    });
    const networking = settings.networking as Record<string, NixValue>;
    expect(renderNix(networking.useNetworkd!)).toBe("(lib.mkForce true)");
    expect(networking.firewall).toEqual({ allowedUDPPorts: [5353] });
    expect(settings.services).not.toHaveProperty("avahi");
    expect(notes.join("\n")).toContain("NixOS.local");
  });

  test("avahi backend: avahi publishes addresses with nss-mdns and an open firewall; no networkd mDNS (never both responders)", async () => {
    const { settings } = await isoModule("avahi");
    const services = settings.services as Record<string, NixValue>;
    expect(services.avahi).toEqual({ enable: true, publish: { enable: true, addresses: true }, nssmdns4: true, openFirewall: true });
    expect(settings).not.toHaveProperty("systemd");
    expect(renderNix(services.resolved!, { indent: "" })).toContain("MulticastDNS = false");
  });

  test("shares the networkd unit with another plugin: equal values merge, keys add up", async () => {
    const { settings } = await isoModule("resolved", [sharedUnitWriter({ IPv6LinkLocalAddressGenerationMode: "eui64" })]);
    const unit = (settings.systemd as any).network.networks[LIVE_NETWORK];
    expect(unit).toEqual({
      matchConfig: { Name: "en* wl* ww*" },
      address: ["fe80::47/64"],
      networkConfig: { IPv6LinkLocalAddressGenerationMode: "eui64", MulticastDNS: true, DHCP: "yes" },
    });
  });

  test("refuses (exit 2) a module where another plugin sets the same networkd key differently", async () => {
    const run = isoModule("resolved", [sharedUnitWriter({ DHCP: "no" })]);
    await expect(run).rejects.toMatchObject({ code: "E_MODULE_CONFLICT", exitCode: 2 });
    await expect(run).rejects.toThrow(`systemd.network.networks.${LIVE_NETWORK}.networkConfig.DHCP`);
  });
});

/**
 * Real nix evaluates the rendered settings against the two shapes of
 * `options.services.resolved`: 25.11 declares `settings`, 24.05 only
 * `extraConfig`. lib.mkForce is nixpkgs' own definition.
 */
const withNix = systemTest(["nix-instantiate"], { root: false });
async function evaluate(settings: Record<string, NixValue>, resolvedOptions: string[]): Promise<any> {
  const declared = Object.fromEntries(resolvedOptions.map((o) => [o, null]));
  return evalNix(
    `let lib = { mkForce = content: { _type = "override"; priority = 50; inherit content; }; };\n` +
      `options = ${renderNix({ services: { resolved: declared } })};\nin ${renderNix(settings)}\n`,
  );
}

withNix("nix picks services.resolved.settings.Resolve.MulticastDNS on 25.11 and extraConfig on 24.05 (resolved backend)", async () => {
  const { settings } = await isoModule("resolved");
  const current = await evaluate(settings, ["enable", "settings", "extraConfig"]);
  expect(current.services.resolved).toEqual({ enable: true, settings: { Resolve: { MulticastDNS: true } } });
  expect(current.networking.useNetworkd).toEqual({ _type: "override", priority: 50, content: true });
  const old = await evaluate(settings, ["enable", "extraConfig"]);
  expect(old.services.resolved).toEqual({ enable: true, extraConfig: "MulticastDNS=yes" });
});

withNix("nix switches resolved's responder off on both releases (avahi backend)", async () => {
  const { settings } = await isoModule("avahi");
  expect((await evaluate(settings, ["enable", "settings", "extraConfig"])).services.resolved).toEqual({ settings: { Resolve: { MulticastDNS: false } } });
  expect((await evaluate(settings, ["enable", "extraConfig"])).services.resolved).toEqual({ extraConfig: "MulticastDNS=no" });
});
