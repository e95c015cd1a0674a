/**
 * A test build of the flk CLI: the six built-in plugins plus a stand-in
 * `locate` tap that answers first with $FLK_TEST_LOCATE (`ADDRESS%SCOPE`),
 * so the ssh system test does not depend on mDNS or NDP on the test link.
 * Compiled with `bun build --compile` like bin/flk.ts.
 */
import { runCli } from "../../../core/cli.ts";
import { definePlugin } from "../../../core/index.ts";
import nixIso from "../../../plugins/nix-iso/index.ts";
import ddWriter from "../../../plugins/dd-writer/index.ts";
import mdns from "../../../plugins/mdns/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import sshKeys from "../../../plugins/ssh-keys/index.ts";
import installer from "../../../plugins/installer/index.ts";

/** Answers `locate` before mdns and ipv6-lla (tapable stage -100) with the address the test set. */
const standInLocator = definePlugin({
  name: "test-stand-in-locator",
  description: "Test stand-in: locate answers with $FLK_TEST_LOCATE",
  options: {},
  apply(flk) {
    flk.hooks.locate.tapPromise({ name: "test-stand-in-locator", stage: -100 }, async (query) => {
      const given = process.env.FLK_TEST_LOCATE;
      query.tried.push(`test-stand-in-locator: ${given ? `answered ${given}` : "$FLK_TEST_LOCATE is not set"}`);
      if (!given) return undefined;
      const [address, scope] = given.split("%") as [string, string | undefined];
      return { address, scope, family: address.includes(":") ? 6 : 4, source: "test-stand-in" };
    });
  },
});

void runCli(process.argv.slice(2), {
  plugins: [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer, standInLocator],
  version: "test",
}).then((code) => process.exit(code));
