/**
 * What the live ISO needs so the operator can reach it on the bare link: the
 * static fe80::47 and the MAC-derived EUI-64 address, configured by networkd.
 * Option names checked against nixpkgs (24.05, 25.11, master):
 *   nixos/modules/system/boot/networkd.nix   systemd.network.networks.<n>.{matchConfig,address,networkConfig};
 *     `networkConfig` keys are checked by assertOnlyFields in the [Network] section:
 *     LinkLocalAddressing (yes|no|ipv4|ipv6|fallback|ipv4-fallback) and
 *     IPv6LinkLocalAddressGenerationMode (eui64|none|stable-privacy|random) are both there.
 *   nixos/modules/tasks/network-interfaces.nix  networking.useNetworkd
 *   nixos/modules/services/networking/networkmanager.nix, iwd.nix, dhcpcd.nix  their `enable`
 * installation-device.nix turns on `networking.wireless.enable` (wpa_supplicant)
 * with mkDefault; it works under networkd, so it stays.
 */
import { matchNames, nix, type NetworkUnit, type NixValue } from "../../core/index.ts";

/** The plugin's options as the ISO needs them. */
export interface LlaSettings {
  /** Canonical static link-local address, e.g. `fe80::47`. */
  address: string;
  eui64: boolean;
  /** The live installer's networkd unit (core/live.ts), shared with mdns. */
  network: NetworkUnit;
}

/**
 * The settings tree. `LinkLocalAddressing = "ipv6"` (systemd's own default,
 * stated so a host config cannot leave the live system without IPv6LL):
 * "yes" would also put a random 169.254/16 IPv4LL address on every link,
 * which nobody can find without mDNS and which DHCP makes unnecessary; an
 * operator finds the stick by fe80::47, its EUI-64 address or HOST.local.
 * With `eui64 = false` the generation mode is left to networkd's default
 * (the kernel's addr_gen_mode), not forced.
 */
export function llaSettings(options: LlaSettings): Record<string, NixValue> {
  const networkConfig: Record<string, NixValue> = { DHCP: "yes", LinkLocalAddressing: "ipv6" };
  if (options.eui64) networkConfig.IPv6LinkLocalAddressGenerationMode = "eui64";
  return {
    networking: {
      // networkd owns the links; the other managers would fight it for them (as digga's ISO did).
      useNetworkd: nix.mkForce(true),
      networkmanager: { enable: nix.mkForce(false) },
      wireless: { iwd: { enable: nix.mkForce(false) } },
      dhcpcd: { enable: nix.mkForce(false) },
    },
    systemd: {
      network: {
        enable: true,
        networks: {
          [options.network.name]: {
            matchConfig: { Name: matchNames(options.network) },
            address: [`${options.address}/64`],
            networkConfig,
          },
        },
      },
    },
  };
}

/** Lines for the operator after the build. */
export function llaNotes(options: Pick<LlaSettings, "address" | "eui64">): string[] {
  const eui = options.eui64 ? " and at its EUI-64 address (`flk lla eui64 MAC`)" : "";
  return [`ipv6-lla: the live system answers at ${options.address}%IFACE${eui}; \`flk lla discover\` lists it, \`flk lla explain\` shows the ssh command`];
}
