/**
 * The mdns settings read back from a real ISO built from the fixture site
 * (nix-iso's stand-in module system checks every option is declared by the
 * chosen nixpkgs release, and renders resolved.conf, the networkd unit and
 * avahi-daemon.conf like NixOS). One build per backend and release.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { buildFixtureIso, type FixtureIso } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { LIVE_NETWORK, matchNames } from "../../core/index.ts";

const it = systemTest(["nix", "xorriso", "git"], { root: false });
const UNIT = LIVE_NETWORK.name;

function fixture(backend: "resolved" | "avahi", nixpkgs: "25.11" | "24.05") {
  const state: { built?: FixtureIso } = {};
  beforeAll(async () => {
    state.built = await buildFixtureIso({ toml: `plugins = ["nix-iso", "mdns"]\n\n[mdns]\nbackend = "${backend}"\n`, nixpkgs });
  }, 300_000);
  afterAll(() => state.built?.cleanup());
  return () => state.built!;
}

describe("resolved backend on nixpkgs 25.11", () => {
  const iso = fixture("resolved", "25.11");
  it("networkd takes en* eth* wl* ww* with MulticastDNS and DHCP; resolved answers mDNS via settings.Resolve; UDP 5353 is open", async () => {
    const { config } = iso();
    expect(config.networking.hostName).toBe("NixOS");
    expect(config.networking.useNetworkd).toBe(true);
    expect(config.systemd.network.enable).toBe(true);
    expect(config.systemd.network.networks[UNIT].matchConfig).toEqual({ Name: matchNames(LIVE_NETWORK) });
    expect(config.systemd.network.networks[UNIT].networkConfig).toMatchObject({ MulticastDNS: true, DHCP: "yes" });
    expect(config.services.resolved.enable).toBe(true);
    expect(config.services.resolved.settings.Resolve.MulticastDNS).toBe(true);
    expect(config.networking.firewall.allowedUDPPorts).toContain(5353);
    expect(config.services.avahi.enable).toBe(false);
    expect(await iso().read("/etc/systemd/resolved.conf")).toMatch(/\[Resolve\][^[]*MulticastDNS=true/);
    const unit = await iso().read(`/etc/systemd/network/${UNIT}.network`);
    expect(unit).toContain(`Name=${matchNames(LIVE_NETWORK)}`);
    expect(unit).toMatch(/MulticastDNS=(true|yes)/);
    expect(await iso().read("/etc/avahi/avahi-daemon.conf")).toBeUndefined();
  });
});

describe("resolved backend on nixpkgs 24.05", () => {
  const iso = fixture("resolved", "24.05");
  it("the same module falls back to services.resolved.extraConfig, which lands in [Resolve]", async () => {
    const { config } = iso();
    expect(config.services.resolved.enable).toBe(true);
    expect(config.services.resolved.extraConfig).toContain("MulticastDNS=yes");
    expect(config.services.resolved).not.toHaveProperty("settings");
    expect(config.systemd.network.networks[UNIT].networkConfig.MulticastDNS).toBe(true);
    expect(config.networking.firewall.allowedUDPPorts).toContain(5353);
    expect(await iso().read("/etc/systemd/resolved.conf")).toMatch(/\[Resolve\][^[]*MulticastDNS=yes/);
  });
});

for (const nixpkgs of ["25.11", "24.05"] as const)
  describe(`avahi backend on nixpkgs ${nixpkgs}`, () => {
    const iso = fixture("avahi", nixpkgs);
    it("avahi publishes addresses with nss-mdns and opens 5353; resolved's responder is off (never both)", async () => {
      const { config } = iso();
      expect(config.services.avahi).toMatchObject({ enable: true, publish: { enable: true, addresses: true }, nssmdns4: true, openFirewall: true });
      expect(config.networking.firewall.allowedUDPPorts).toContain(5353);
      if (nixpkgs === "25.11") expect(config.services.resolved.settings.Resolve.MulticastDNS).toBe(false);
      else expect(config.services.resolved.extraConfig).toContain("MulticastDNS=no");
      expect(config.systemd.network.networks[UNIT]).toBeUndefined();
      const conf = await iso().read("/etc/avahi/avahi-daemon.conf");
      expect(conf).toContain("host-name=NixOS");
      expect(conf).toContain("publish-addresses=yes");
    });
  });
