import { describe, expect, test } from "bun:test";
import { liveInstaller, type Flk, type IsoModule } from "../../../core/index.ts";
import { testFlk } from "../../helpers/flk.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import mdns from "../../../plugins/mdns/index.ts";

const empty = (): IsoModule => ({ imports: [], settings: {}, files: [], notes: [] });

/** Record which plugin's taps ran, through tapable's interceptor (the calls, not the registration list). */
function recordCalls(flk: Flk): string[] {
  const calls: string[] = [];
  for (const hook of [flk.hooks.isoModule, flk.hooks.locate, flk.hooks.liveInstaller] as const)
    (hook as { intercept(i: { tap(tap: { name: string }): void }): void }).intercept({ tap: (tap) => void calls.push(tap.name) });
  return calls;
}

describe("ipv6-lla taps", () => {
  test("fills the live installer's static address, canonical: FE80:0::47 is fe80::47 everywhere", () => {
    const flk = testFlk({ plugins: [ipv6Lla], options: { "ipv6-lla": { address: "FE80:0::47" } } });
    const calls = recordCalls(flk);
    expect(liveInstaller(flk, "NixOS").staticAddress).toBe("fe80::47");
    expect(calls).toEqual(["ipv6-lla"]);
  });

  test("adds `flk lla` with eui64, discover and explain, and its isoModule tap runs under its own name", async () => {
    const flk = testFlk({ plugins: [ipv6Lla] });
    const added: Array<{ name: string; plugin?: string; subs: string[] }> = [];
    const loads: Array<Promise<void>> = [];
    flk.hooks.commands.call({
      add: (name, command, options) =>
        void loads.push(
          Promise.resolve(typeof command === "function" ? command() : command).then((c) => void added.push({ name, plugin: options?.plugin, subs: Object.keys((c.subCommands ?? {}) as object) })),
        ),
    });
    await Promise.all(loads);
    expect(added).toEqual([{ name: "lla", plugin: "ipv6-lla", subs: ["eui64", "discover", "explain"] }]);
    const calls = recordCalls(flk);
    await flk.hooks.isoModule.promise(empty(), { host: "NixOS", siteRoot: "/site" });
    expect(calls).toEqual(["ipv6-lla", "ipv6-lla"]); // isoModule, then the liveInstaller it reads
  });

  test("a disabled ipv6-lla taps nothing: no static address, its isoModule tap does not run", async () => {
    const flk = testFlk({ plugins: [mdns, ipv6Lla], enabled: ["mdns"] });
    const calls = recordCalls(flk);
    expect(liveInstaller(flk, "NixOS").staticAddress).toBeUndefined();
    await flk.hooks.isoModule.promise(empty(), { host: "NixOS", siteRoot: "/site" });
    expect(calls).toEqual(["mdns"]);
  });
});
