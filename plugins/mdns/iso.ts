/**
 * What the live ISO needs to answer to HOST.local: the settings tree the
 * `isoModule` tap merges in. Option names are NixOS's own, checked against
 * nixpkgs 24.05 and 25.11 (and master):
 *   nixos/modules/system/boot/resolved.nix          services.resolved.{enable,settings,extraConfig}
 *   nixos/modules/system/boot/networkd.nix          systemd.network.networks.<n>.{matchConfig,networkConfig}
 *   nixos/modules/tasks/network-interfaces.nix      networking.useNetworkd, networking.firewall.allowedUDPPorts
 *   nixos/modules/services/networking/avahi-daemon.nix  services.avahi.{enable,publish.*,nssmdns4,openFirewall}
 * networking.hostName (= HOST) is set by nix-iso; both responders announce it.
 */
import { LIVE_MATCH, LIVE_NETWORK, nix, renderNix, type NixValue } from "../../core/index.ts";

/** The mDNS responder on the live ISO. */
export type Backend = "resolved" | "avahi";


/**
 * resolved's global mDNS switch. nixpkgs 25.11 configures resolved through
 * `services.resolved.settings.Resolve` and has removed `extraConfig` (it is
 * still declared, as an error); 24.05 and older have only `extraConfig`,
 * whose lines land in resolved.conf's [Resolve] section. Which one exists is
 * read from the module's `options` argument, so one generated module works
 * on both. A plain if/else, not `lib.mkIf`: mkIf would still *define* the
 * option that the release does not declare, which is an error.
 */
function resolvedMulticast(on: boolean, extra: Record<string, NixValue> = {}): NixValue {
  const settings = renderNix({ settings: { Resolve: { MulticastDNS: on } } }, { indent: "" });
  const legacy = renderNix({ extraConfig: `MulticastDNS=${on ? "yes" : "no"}` }, { indent: "" });
  return nix.raw(`${renderNix(extra, { indent: "" })} // (if options.services.resolved ? settings then ${settings} else ${legacy})`);
}

/** systemd-networkd brings the links up and resolved answers mDNS on them (digga's way, plus what digga missed). */
function resolvedSettings(): Record<string, NixValue> {
  return {
    networking: {
      // installation-device profiles leave dhcpcd in charge; networkd must take the links for per-link mDNS.
      useNetworkd: nix.mkForce(true),
      firewall: { allowedUDPPorts: [5353] },
    },
    systemd: {
      network: {
        enable: true,
        networks: {
          [LIVE_NETWORK]: {
            matchConfig: { Name: LIVE_MATCH },
            networkConfig: { MulticastDNS: true, DHCP: "yes" },
          },
        },
      },
    },
    services: { resolved: resolvedMulticast(true, { enable: true }) },
  };
}

/** avahi answers instead; resolved's responder is switched off so only one answers on 5353. */
function avahiSettings(): Record<string, NixValue> {
  return {
    services: {
      avahi: {
        enable: true,
        publish: { enable: true, addresses: true },
        nssmdns4: true,
        openFirewall: true,
      },
      resolved: resolvedMulticast(false),
    },
  };
}

/** The settings tree for `backend`. */
export function mdnsSettings(backend: Backend): Record<string, NixValue> {
  return backend === "avahi" ? avahiSettings() : resolvedSettings();
}

/** A line for the operator after the build. */
export function mdnsNote(backend: Backend, host: string): string {
  return `mdns: the live system answers to ${host}.local (${backend === "avahi" ? "avahi" : "systemd-resolved"}); find it with \`flk resolve ${host}\``;
}
