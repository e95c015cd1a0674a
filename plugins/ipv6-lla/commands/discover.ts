/** `flk lla discover [--iface IF]`: who is on the link, which is the live ISO, and whether two collide. */
import { defineCommand, FlkError, LIVE_USER, withScope, type Flk } from "../../../core/index.ts";
import { discover, type Discovery } from "../discover.ts";

/** The text report: neighbours per interface, then collisions with a way out. */
export function renderDiscovery(found: Discovery): string {
  const lines: string[] = [];
  for (const iface of found.interfaces) {
    const here = found.neighbours.filter((n) => n.iface === iface);
    lines.push(`${iface}: ${here.length === 0 ? "no neighbour answered" : `${here.length} neighbour${here.length === 1 ? "" : "s"}`}`);
    const width = Math.max(0, ...here.map((n) => n.address.length));
    for (const n of here) lines.push(`  ${n.address.padEnd(width)}  ${n.mac}  ${[...n.flags, ...(n.router ? ["router"] : [])].join(" ")}`.trimEnd());
  }
  for (const c of found.collisions) {
    lines.push("", `${c.iface}: ${c.address} collides: ${c.count} hosts answer on it.`);
    if (c.hosts.length < c.count) lines.push(`  Only ${c.hosts.length} of their MACs could be read (the neighbour table keeps one); run as root to see all of them.`);
    if (c.hosts.length > 0) lines.push("  Each still answers at its EUI-64 address (if the ISO enables it):");
    for (const h of c.hosts) lines.push(`  ssh ${LIVE_USER}@${withScope(h.eui64, c.iface)}    # ${h.mac}`);
  }
  return lines.join("\n");
}

/** The `discover` subcommand; `address` is the site's configured static address. */
export function discoverCommand(flk: Flk, address: () => string) {
  const log = flk.logger("ipv6-lla");
  return defineCommand({
    meta: { name: "discover", description: "Ping ff02::1 on each link, list neighbours, flag fe80::47 and EUI-64 hosts, report collisions" },
    args: {
      iface: { type: "string", description: "Only this interface (default: every interface that is up)", valueHint: "IF" },
    },
    async run({ args }) {
      const found = await discover({ address: address(), iface: args.iface, signal: flk.signal });
      if (found.interfaces.length === 0)
        throw new FlkError("no interface is up with an IPv6 link-local address, so there is no link to search. Plug in a cable (check with `ip link`) or name one with --iface.", "E_LLA_NO_LINK", 1);
      for (const note of found.notes) log.warn(note);
      for (const c of found.collisions) log.warn(`${c.count} hosts answer on ${c.address}%${c.iface}: they collide (use their EUI-64 addresses)`);
      if (flk.flags.json) return flk.printJson(found);
      process.stdout.write(renderDiscovery(found) + "\n");
    },
  });
}
