/** `flk resolve NAME[.local]`: thin — parse flags, call lookupOrFail, print. */
import { defineCommand, FlkError, type Flk } from "../../../core/index.ts";
import { scoped } from "../accept.ts";
import { lookupOrFail, parseTimeout } from "../lookup.ts";

/** The command definition, bound to one flk instance. */
export function resolveCommand(flk: Flk) {
  const log = flk.logger("mdns");
  return defineCommand({
    meta: { name: "resolve", description: "Find NAME.local by one-shot mDNS (A and AAAA) on every multicast interface" },
    args: {
      name: { type: "positional", description: "Host name, e.g. NixOS or NixOS.local", required: true, valueHint: "NAME[.local]" },
      timeout: { type: "string", description: "Give up after this many milliseconds (default 2000)", valueHint: "MS" },
      iface: { type: "string", description: "Ask only on this interface", valueHint: "IF" },
      ipv4: { type: "boolean", alias: ["4"], description: "Only IPv4 addresses (A)" },
      ipv6: { type: "boolean", alias: ["6"], description: "Only IPv6 addresses (AAAA)" },
    },
    async run({ args }) {
      if (args.ipv4 && args.ipv6) throw new FlkError("-4 and -6 exclude each other; give one, or neither for both. Nothing was sent.", "E_USAGE", 2);
      const result = await lookupOrFail({
        name: String(args.name),
        timeoutMs: parseTimeout(args.timeout),
        iface: args.iface || undefined,
        family: args.ipv4 ? 4 : args.ipv6 ? 6 : undefined,
        signal: flk.signal,
        debug: (line) => log.debug(line),
      });
      log.debug(`${result.name}: ${result.addresses.length} address(es) in ${result.elapsedMs.toFixed(0)} ms`);
      if (flk.flags.json) return flk.printJson({ name: result.name, addresses: result.addresses });
      for (const a of result.addresses) process.stdout.write(scoped(a) + "\n");
    },
  });
}
