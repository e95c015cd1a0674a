/** `flk lla eui64 MAC`: the modified EUI-64 link-local address of a MAC. */
import { defineCommand, type Flk } from "../../../core/index.ts";
import { eui64Answer } from "../eui64.ts";

/** The `eui64` subcommand; prints the address alone (easy to script) or `{"mac","address"}` with --json. */
export function eui64Command(flk: Flk) {
  return defineCommand({
    meta: { name: "eui64", description: "The RFC 4291 modified EUI-64 link-local address of a MAC (fe80::…)" },
    args: {
      mac: { type: "positional", required: true, description: "A MAC: 52:54:00:12:34:56, 52-54-00-12-34-56, 525400123456 or 5254.0012.3456", valueHint: "MAC" },
    },
    run({ args }) {
      const answer = eui64Answer(String(args.mac));
      if (flk.flags.json) return flk.printJson(answer);
      process.stdout.write(answer.address + "\n");
    },
  });
}
