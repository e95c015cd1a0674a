/**
 * `flk iso --print-module` on a site whose host sets
 * `networking.interfaces.enp3s0` and `usePredictableInterfaceNames = false`:
 * the printed module, evaluated by the real nix on top of that host (the
 * fixture's stand-in of nixpkgs writes `40-<iface>` units as
 * network-interfaces-systemd.nix does), yields a live unit that networkd
 * applies first to every wired, wireless and WWAN link — enp3s0 and eth0 too.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LIVE_NETWORK } from "../../core/index.ts";
import { flk } from "../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { firstMatch } from "../helpers/live-module.ts";
import { systemTest } from "../helpers/require.ts";

const it = systemTest(["nix", "git"], { root: false });
const env = fixtureNixEnv();
let site: string;

beforeAll(async () => {
  site = await copyFixtureSite({
    toml: 'plugins = ["nix-iso", "mdns", "ipv6-lla"]\n',
    prepare: (dir) => {
      const host = join(dir, "hosts/NixOS.nix");
      const text = readFileSync(host, "utf8").replace(/\n}\s*$/, "\n  networking.interfaces.enp3s0.useDHCP = true;\n  networking.usePredictableInterfaceNames = false;\n}\n");
      writeFileSync(host, text);
    },
  });
}, 120_000);
afterAll(() => rmSync(site, { recursive: true, force: true }));

/** `config.<path>` of NixOS, optionally extended with the module at `module`, as JSON. */
function evalConfig(path: string, module?: string): any {
  const system = `(builtins.getFlake "git+file://${site}").nixosConfigurations.NixOS`;
  const expr = module ? `(${system}.extendModules { modules = [ ${module} ]; }).config.${path}` : `${system}.config.${path}`;
  const r = Bun.spawnSync(["nix", "--extra-experimental-features", "nix-command flakes", "eval", "--impure", "--json", "--expr", expr], { env: { ...process.env, ...env }, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`nix eval ${path} failed: ${r.stderr.toString().slice(-1500)}`);
  return JSON.parse(r.stdout.toString());
}

it("--print-module's unit wins enp3s0 and eth0 over the host's 40-enp3s0 (networkd: first matching file by name)", async () => {
  const printed = await flk(["iso", "NixOS", "--print-module"], { cwd: site, env });
  expect(printed.code).toBe(0);
  expect(printed.stdout).toContain(`"${LIVE_NETWORK.name}"`);
  const module = join(site, "..", `${site.split("/").pop()}-live.nix`);
  writeFileSync(module, printed.stdout);
  try {
    // The host under networkd alone (network-interfaces-systemd.nix writes its units only then): its own unit takes enp3s0.
    const hostOnly = evalConfig("systemd.network.networks", "{ networking.useNetworkd = true; }");
    expect(hostOnly["40-enp3s0"].name).toBe("enp3s0");
    expect(firstMatch(hostOnly, "enp3s0")).toBe("40-enp3s0");
    expect(evalConfig("networking.usePredictableInterfaceNames")).toBe(false);
    // The live system: the host plus the printed module.
    const live = evalConfig("systemd.network.networks", module);
    expect(Object.keys(live).sort()).toEqual([LIVE_NETWORK.name, "40-enp3s0"].sort());
    for (const link of ["enp3s0", "eth0", "eth1", "wlan0", "wlp2s0", "wwan0"]) expect([link, firstMatch(live, link)]).toEqual([link, LIVE_NETWORK.name]);
    expect(live[LIVE_NETWORK.name].networkConfig).toMatchObject({ MulticastDNS: true, IPv6LinkLocalAddressGenerationMode: "eui64" });
    expect(live[LIVE_NETWORK.name].address).toEqual(["fe80::47/64"]);
  } finally {
    rmSync(module, { force: true });
  }
}, 180_000);
