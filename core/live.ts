/**
 * The live installer of one host, described once: who logs in, under which
 * name it answers, its static address, the networkd unit every plugin puts
 * its link settings in, and the alias its pinned host key is filed under.
 * Core fills in what nixpkgs fixes; plugins add what they configure through
 * the `liveInstaller` waterfall (ipv6-lla: the static address). ISO
 * contributions, `reach` and `install` all read this one description.
 */

/** A systemd-networkd `.network` unit: its name (the file is NAME.network) and the links it matches. */
export interface NetworkUnit {
  name: string;
  /** `[Match] Name=` globs. */
  match: string[];
}

/** The one description of a host's live installer. */
export interface LiveInstaller {
  /** The host name (`networking.hostName` on the stick, so mDNS announces `HOST.local`). */
  host: string;
  /** The login user: installation-device.nix creates `nixos` (wheel, passwordless sudo). */
  user: string;
  /** The static link-local address, RFC 5952 canonical (`fe80::47`), when a plugin configures one. */
  staticAddress?: string;
  /** The unit mdns and ipv6-lla both configure: networkd applies only the first matching one. */
  network: NetworkUnit;
  /** The name the pinned host key is filed under in known_hosts (ssh matches patterns case-folded). */
  hostKeyAlias: string;
}

/** nixos/modules/profiles/installation-device.nix: `users.users.nixos`, wheel, passwordless sudo. */
export const LIVE_USER = "nixos";

/**
 * networkd applies the first `.network` file, in lexical order of file
 * names, that matches a link. nixos/modules/tasks/network-interfaces-systemd.nix
 * writes `40-<iface>` for every `networking.interfaces.<iface>` (hardware
 * configs often set one) and `99-ethernet-default-dhcp`; `05-` sorts before
 * both. The globs cover wired, wireless and WWAN links under predictable
 * names, and `eth*` for hosts that set `networking.usePredictableInterfaceNames = false`.
 */
export const LIVE_NETWORK: Readonly<NetworkUnit> = Object.freeze({ name: "05-flk-live", match: Object.freeze(["en*", "eth*", "wl*", "ww*"]) as string[] });

/** What core knows before any plugin adds to it. */
export function baseLiveInstaller(host: string): LiveInstaller {
  return {
    host,
    user: LIVE_USER,
    network: { name: LIVE_NETWORK.name, match: [...LIVE_NETWORK.match] },
    hostKeyAlias: `flk-live-${host.toLowerCase()}`,
  };
}

/** `[Match] Name=` text: networkd takes a whitespace-separated list of globs. */
export function matchNames(unit: NetworkUnit): string {
  return unit.match.join(" ");
}

