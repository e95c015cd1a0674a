import { describe, expect, test } from "bun:test";
import { createFlk } from "../../../core/context.ts";
import { LIVE_NETWORK, renderNix, type IsoModule } from "../../../core/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import mdns from "../../../plugins/mdns/index.ts";

const empty: IsoModule = { imports: [], settings: {}, files: [], notes: [] };

async function contribution(options: Record<string, unknown>, withMdns = false): Promise<IsoModule> {
  const plugins = withMdns ? [mdns, ipv6Lla] : [ipv6Lla];
  const config = {
    enabled: plugins.map((p) => p.name),
    options: { "ipv6-lla": { address: "fe80::47", eui64: true, ...options }, mdns: { backend: "resolved" } },
  };
  const flk = createFlk({ plugins, config });
  return flk.hooks.isoModule.promise(structuredClone(empty), { host: "NixOS", siteRoot: "/site" });
}

/** The rendered Nix of one settings path, on one line. */
function at(module: IsoModule, ...path: string[]): string {
  let value: unknown = module.settings;
  for (const key of path) value = (value as Record<string, unknown>)?.[key];
  return value === undefined ? "(unset)" : renderNix(value as never, { indent: "" });
}

describe("ipv6-lla ISO contribution", () => {
  test("puts fe80::47/64, IPv6 link-local addressing and EUI-64 generation in the [Network] section of the shared live unit", async () => {
    const module = await contribution({});
    const unit = ["systemd", "network", "networks", LIVE_NETWORK];
    expect(at(module, ...unit, "matchConfig")).toBe('{ Name = "en* wl* ww*"; }');
    expect(at(module, ...unit, "address")).toBe('[ "fe80::47/64" ]');
    expect(at(module, ...unit, "networkConfig")).toBe('{ DHCP = "yes"; LinkLocalAddressing = "ipv6"; IPv6LinkLocalAddressGenerationMode = "eui64"; }');
    expect(at(module, ...unit, "extraConfig")).toBe("(unset)");
    expect(at(module, "systemd", "network", "enable")).toBe("true");
  });

  test("forces networkd on and NetworkManager, iwd and dhcpcd off, and keeps wpa_supplicant", async () => {
    const module = await contribution({});
    expect(at(module, "networking", "useNetworkd")).toBe("(lib.mkForce true)");
    expect(at(module, "networking", "networkmanager", "enable")).toBe("(lib.mkForce false)");
    expect(at(module, "networking", "wireless", "iwd", "enable")).toBe("(lib.mkForce false)");
    expect(at(module, "networking", "dhcpcd", "enable")).toBe("(lib.mkForce false)");
    expect(at(module, "networking", "wireless", "enable")).toBe("(unset)");
  });

  test("with eui64 = false the generation mode is left to networkd, and a custom address is written canonically", async () => {
    const module = await contribution({ eui64: false, address: "FE80:0:0:0::4:7" });
    const unit = ["systemd", "network", "networks", LIVE_NETWORK];
    expect(at(module, ...unit, "address")).toBe('[ "fe80::4:7/64" ]');
    expect(at(module, ...unit, "networkConfig", "IPv6LinkLocalAddressGenerationMode")).toBe("(unset)");
    expect(module.notes.join("\n")).toContain("fe80::4:7%IFACE");
  });

  test("refuses a static address that is not link-local before anything is built, naming the setting", async () => {
    await expect(contribution({ address: "2001:db8::47" })).rejects.toThrow(/\[ipv6-lla\] address: expected an IPv6 link-local address like fe80::47.*got '2001:db8::47'/);
  });

  test("merges with mdns into one networkd unit without a conflict (networkd applies only the first matching .network file)", async () => {
    const module = await contribution({}, true);
    const networks = (module.settings.systemd as { network: { networks: Record<string, unknown> } }).network.networks;
    expect(Object.keys(networks)).toEqual([LIVE_NETWORK]);
    const networkConfig = at(module, "systemd", "network", "networks", LIVE_NETWORK, "networkConfig");
    expect(networkConfig).toContain("MulticastDNS = true;");
    expect(networkConfig).toContain('IPv6LinkLocalAddressGenerationMode = "eui64";');
    expect(networkConfig).toContain('DHCP = "yes";');
    expect(module.notes.some((n) => n.startsWith("ipv6-lla:"))).toBe(true);
  });
});
