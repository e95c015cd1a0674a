/** `flk lla explain`: why fe80::47, and the ssh command for each interface. */
import { defineCommand, type Flk } from "../../../core/index.ts";
import { explain, renderExplanation } from "../explain.ts";
import { readLinks } from "../links.ts";

/** The `explain` subcommand; `address` is the site's configured static address. */
export function explainCommand(flk: Flk, address: () => string) {
  return defineCommand({
    meta: { name: "explain", description: "Why fe80::47 (n=14 i=9 x=24), and the ssh command for each interface" },
    async run() {
      const explanation = explain(address(), await readLinks());
      if (flk.flags.json) return flk.printJson(explanation);
      process.stdout.write(renderExplanation(explanation) + "\n");
    },
  });
}
