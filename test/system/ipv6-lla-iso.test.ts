/**
 * The ipv6-lla settings as they land in a real ISO built by nix from the
 * fixture site (test/helpers/iso.ts): the evaluated config and the networkd
 * unit file rendered from it, read back out of the image.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildFixtureIso, type FixtureIso } from "../helpers/iso.ts";
import { missing, systemTest } from "../helpers/require.ts";
import { LIVE_NETWORK, matchNames } from "../../core/index.ts";

const PROGRAMS = ["nix", "xorriso", "git"];
const it = systemTest(PROGRAMS, { root: false });
const UNIT = `/etc/systemd/network/${LIVE_NETWORK.name}.network`;

/** A laptop-style host that turns on what the live system must not run. */
function laptopHost(site: string): void {
  const file = join(site, "hosts", "NixOS.nix");
  const text = readFileSync(file, "utf8").replace(
    "services.openssh.enable = true;",
    "services.openssh.enable = true;\n  networking.networkmanager.enable = true;\n  networking.wireless.iwd.enable = true;\n  networking.dhcpcd.enable = true;",
  );
  writeFileSync(file, text);
}

let defaults: FixtureIso | undefined;
let custom: FixtureIso | undefined;
let legacy: FixtureIso | undefined;
let without: FixtureIso | undefined;

beforeAll(async () => {
  if (missing(PROGRAMS, false)) return;
  [defaults, custom, legacy, without] = await Promise.all([
    buildFixtureIso({ prepare: laptopHost, toml: 'plugins = ["nix-iso", "mdns", "ipv6-lla"]\n' }),
    buildFixtureIso({ toml: 'plugins = ["nix-iso", "ipv6-lla"]\n\n[ipv6-lla]\naddress = "FE80:0::4:7"\neui64 = false\n' }),
    buildFixtureIso({ nixpkgs: "24.05", toml: 'plugins = ["nix-iso", "mdns", "ipv6-lla"]\n' }),
    buildFixtureIso({ toml: 'plugins = ["nix-iso", "mdns"]\n' }),
  ]);
}, 110_000);

afterAll(() => {
  for (const built of [defaults, custom, legacy, without]) built?.cleanup();
});

const networks = (built: FixtureIso | undefined) => built!.config.systemd.network.networks;

describe("ipv6-lla in the built fixture ISO", () => {
  it("the shared live unit has fe80::47/64, IPv6 link-local addressing and EUI-64 generation in [Network], DHCP on", async () => {
    const unit = networks(defaults)[LIVE_NETWORK.name];
    expect(unit.matchConfig.Name).toBe(matchNames(LIVE_NETWORK));
    expect(unit.address).toEqual(["fe80::47/64"]);
    expect(unit.networkConfig).toMatchObject({ DHCP: "yes", LinkLocalAddressing: "ipv6", IPv6LinkLocalAddressGenerationMode: "eui64", MulticastDNS: true });
    expect(unit.extraConfig).toBe("");
    const text = (await defaults!.read(UNIT))!;
    const network = text.slice(text.indexOf("[Network]"));
    for (const line of ["Address=fe80::47/64", "LinkLocalAddressing=ipv6", "IPv6LinkLocalAddressGenerationMode=eui64", "DHCP=yes"]) expect(network).toContain(line + "\n");
    expect(text.match(/^\[/gm)).toEqual(["[", "["]); // only [Match] and [Network]
    expect(Object.keys(networks(defaults))).toEqual([LIVE_NETWORK.name]);
  });

  it("networkd is forced on and NetworkManager, iwd and dhcpcd off even when the host turns them on; wpa_supplicant stays", () => {
    const networking = defaults!.config.networking;
    expect(networking.useNetworkd).toBe(true);
    expect(networking.networkmanager.enable).toBe(false);
    expect(networking.wireless.iwd.enable).toBe(false);
    expect(networking.dhcpcd.enable).toBe(false);
    expect(networking.wireless.enable).toBe(true);
    expect(defaults!.config.systemd.network.enable).toBe(true);
  });

  it("a custom address is written canonically, and eui64 = false leaves the generation mode to networkd", async () => {
    const unit = networks(custom)[LIVE_NETWORK.name];
    expect(unit.address).toEqual(["fe80::4:7/64"]);
    expect(unit.networkConfig.IPv6LinkLocalAddressGenerationMode).toBeUndefined();
    expect(unit.networkConfig.LinkLocalAddressing).toBe("ipv6");
    const text = (await custom!.read(UNIT))!;
    expect(text).toContain("Address=fe80::4:7/64\n");
    expect(text).not.toContain("IPv6LinkLocalAddressGenerationMode");
  });

  it("the same keys build on the 24.05 module set", async () => {
    expect(networks(legacy)[LIVE_NETWORK.name].networkConfig.IPv6LinkLocalAddressGenerationMode).toBe("eui64");
    expect(await legacy!.read(UNIT)).toContain("Address=fe80::47/64\n");
  });

  it("with ipv6-lla switched off the live unit has no static address", async () => {
    expect(networks(without)[LIVE_NETWORK.name].address ?? []).toEqual([]);
    expect(await without!.read(UNIT)).not.toContain("fe80::47");
  });
});
