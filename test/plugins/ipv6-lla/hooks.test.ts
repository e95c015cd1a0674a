import { describe, expect, test } from "bun:test";
import { createFlk } from "../../../core/context.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import mdns from "../../../plugins/mdns/index.ts";

const config = (enabled: string[]) => ({ enabled, options: { "ipv6-lla": { address: "fe80::47", eui64: true }, mdns: { backend: "resolved" } } });

describe("ipv6-lla taps", () => {
  test("the locate hook asks mdns first and ipv6-lla second, whatever the registration order", () => {
    for (const plugins of [[mdns, ipv6Lla], [ipv6Lla, mdns]]) {
      const flk = createFlk({ plugins, config: config(plugins.map((p) => p.name)) });
      // AsyncSeriesBailHook calls its taps in this order and stops at the first answer.
      expect(flk.hooks.locate.taps.map((t) => t.name)).toEqual(["mdns", "ipv6-lla"]);
    }
  });

  test("adds `flk lla` with eui64, discover and explain, and taps isoModule and locate under its own name", async () => {
    const flk = createFlk({ plugins: [ipv6Lla], config: config(["ipv6-lla"]) });
    const added: Array<{ name: string; plugin?: string; subs: string[] }> = [];
    flk.hooks.commands.call({
      add: (name, command, options) => void added.push({ name, plugin: options?.plugin, subs: Object.keys((command.subCommands ?? {}) as object) }),
    });
    expect(added).toEqual([{ name: "lla", plugin: "ipv6-lla", subs: ["eui64", "discover", "explain"] }]);
    expect(flk.hooks.isoModule.taps.map((t) => t.name)).toEqual(["ipv6-lla"]);
    expect(flk.hooks.locate.taps.map((t) => t.name)).toEqual(["ipv6-lla"]);
  });

  test("a disabled ipv6-lla taps nothing", () => {
    const flk = createFlk({ plugins: [mdns, ipv6Lla], config: config(["mdns"]) });
    expect(flk.hooks.locate.taps.map((t) => t.name)).toEqual(["mdns"]);
  });
});
