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
import { matchNames, nix, renderNix, type NetworkUnit, type NixValue } from "../../core/index.ts";

/** The mDNS responder on the live ISO. */
export type Backend = "resolved" | "avahi";

/**
 * resolved's global mDNS switch, forced either way (a host config may set
 * it). nixpkgs since PR #416720 (26.05/unstable) configures resolved through
 * `services.resolved.settings.Resolve` and declares `extraConfig` only as
 * removed (an error when set); 24.05–25.11 have only `extraConfig`, whose
 * lines end resolved.conf's [Resolve] section — `lib.mkAfter` puts ours
 * last, and for a repeated key resolved takes the last assignment. Which one
 * exists is read from the module's `options` argument, so one generated
 * module works on both. A plain if/else, not `lib.mkIf`: mkIf would still
 * *define* the option that the release does not declare, which is an error.
 */
function resolvedMulticast(on: boolean, extra: Record<string, NixValue> = {}): NixValue {
  const settings = renderNix({ settings: { Resolve: { MulticastDNS: nix.mkForce(on) } } }, { indent: "" });
  const legacy = renderNix({ extraConfig: nix.raw(`lib.mkAfter "MulticastDNS=${on ? "yes" : "no"}"`) }, { indent: "" });
  return nix.raw(`${renderNix(extra, { indent: "" })} // (if options.services.resolved ? settings then ${settings} else ${legacy})`);
}

/** systemd-networkd brings the links up and resolved answers mDNS on them (digga's way, plus what digga missed). */
function resolvedSettings(network: NetworkUnit): Record<string, NixValue> {
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
          [network.name]: {
            matchConfig: { Name: matchNames(network) },
            networkConfig: { MulticastDNS: true, DHCP: "yes" },
          },
        },
      },
    },
    services: {
      resolved: resolvedMulticast(true, { enable: nix.mkForce(true) }),
      // Never two responders on 5353: a host config may enable avahi itself.
      avahi: { enable: nix.mkForce(false) },
    },
  };
}

/** avahi answers instead; resolved's responder is forced off so only one answers on 5353. */
function avahiSettings(): Record<string, NixValue> {
  return {
    services: {
      avahi: {
        enable: nix.mkForce(true),
        publish: { enable: true, addresses: true },
        nssmdns4: true,
        openFirewall: true,
      },
      resolved: resolvedMulticast(false),
    },
  };
}

/** The settings tree for `backend`; `network` is the live installer's shared unit. */
export function mdnsSettings(backend: Backend, network: NetworkUnit): Record<string, NixValue> {
  return backend === "avahi" ? avahiSettings() : resolvedSettings(network);
}

/** A line for the operator after the build. */
export function mdnsNote(backend: Backend, host: string): string {
  return `mdns: the live system answers to ${host}.local (${backend === "avahi" ? "avahi" : "systemd-resolved"}); find it with \`flk resolve ${host}\``;
}
