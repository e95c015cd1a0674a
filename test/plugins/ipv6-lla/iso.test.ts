/**
 * ipv6-lla's ISO contribution, evaluated by the real nix as NixOS would call
 * the rendered module (test/helpers/live-module.ts).
 */
import { describe, expect, test } from "bun:test";
import { testFlk } from "../../helpers/flk.ts";
import { LIVE_NETWORK, type IsoModule } from "../../../core/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import { systemTest } from "../../helpers/require.ts";
import { evalModule, firstMatch, hostUnits, moduleSource, winner } from "../../helpers/live-module.ts";

const empty: IsoModule = { imports: [], settings: {}, files: [], notes: [] };
const withNix = systemTest(["nix-instantiate"], { root: false });

async function contribution(options: Record<string, unknown>): Promise<IsoModule> {
  const flk = testFlk({ plugins: [ipv6Lla], options: { "ipv6-lla": { address: "fe80::47", eui64: true, ...options } } });
  return flk.hooks.isoModule.promise(structuredClone(empty), { host: "NixOS", siteRoot: "/site" });
}

const evaluate = async (module: IsoModule) => evalModule(moduleSource(module.settings), "25.11", ["systemd.network", "networking"]);

describe("ipv6-lla ISO contribution, evaluated by nix", () => {
  withNix("the live unit carries fe80::47/64, IPv6 link-local addressing and EUI-64 generation, and wins every wired, wireless and WWAN link", async () => {
    const v = await evaluate(await contribution({}));
    expect(v["systemd.network"].enable).toBe(true);
    const networks = v["systemd.network"].networks;
    const unit = networks[LIVE_NETWORK.name];
    expect(unit.address).toEqual(["fe80::47/64"]);
    expect(unit.networkConfig).toEqual({ DHCP: "yes", LinkLocalAddressing: "ipv6", IPv6LinkLocalAddressGenerationMode: "eui64" });
    expect(unit).not.toHaveProperty("extraConfig");
    const all = { ...hostUnits(["enp3s0", "eth0"]), ...networks };
    for (const link of ["enp3s0", "eth0", "wlp2s0", "wwan0"]) expect(firstMatch(all, link)).toBe(LIVE_NETWORK.name);
  });

  withNix("forces networkd on and NetworkManager, iwd and dhcpcd off over any host setting, and keeps wpa_supplicant", async () => {
    const { networking } = await evaluate(await contribution({}));
    expect(winner(networking.useNetworkd, false).value).toBe(true);
    expect(winner(networking.networkmanager.enable, true).value).toBe(false);
    expect(winner(networking.wireless.iwd.enable, true).value).toBe(false);
    expect(winner(networking.dhcpcd.enable, true).value).toBe(false);
    expect(networking.wireless).not.toHaveProperty("enable");
  });

  withNix("with eui64 = false the generation mode is left to networkd, and a custom address is written canonically", async () => {
    const module = await contribution({ eui64: false, address: "FE80:0:0:0::4:7" });
    const unit = (await evaluate(module))["systemd.network"].networks[LIVE_NETWORK.name];
    expect(unit.address).toEqual(["fe80::4:7/64"]);
    expect(unit.networkConfig).not.toHaveProperty("IPv6LinkLocalAddressGenerationMode");
    expect(module.notes.join("\n")).toContain("fe80::4:7%IFACE");
  });
});

test("refuses a static address that is not link-local before anything is built, naming the setting", async () => {
  await expect(contribution({ address: "2001:db8::47" })).rejects.toThrow(/\[ipv6-lla\] address: expected an IPv6 link-local address like fe80::47.*got '2001:db8::47'/);
});
