/**
 * The fixture's stand-in of the NixOS module system, evaluated by the real
 * nix: it must merge and refuse definitions the way NixOS does, or the ISO
 * tests of every plugin would prove nothing.
 */
import { describe, expect } from "bun:test";
import { join } from "node:path";
import { FIXTURE_SITE } from "../../helpers/iso.ts";
import { systemTest } from "../../helpers/require.ts";

const it = systemTest(["nix"], { root: false });
const NIX = ["nix", "--extra-experimental-features", "nix-command flakes"];

/** Evaluate `select` (an expression over `config`, `options`, `lib`) of a system made of `modules` (Nix source of a list). */
async function evalSystem(modules: string, select: string, release = "25.11"): Promise<{ ok: true; value: any } | { ok: false; error: string }> {
  const expr = `let
    nixpkgs = import ${join(FIXTURE_SITE, "nixos")} { release = "${release}"; };
    inherit (nixpkgs) lib;
    system = lib.nixosSystem { modules = ${modules}; };
    inherit (system) config options;
  in ${select}`;
  const child = Bun.spawn([...NIX, "eval", "--impure", "--json", "--expr", expr], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NIX_CONFIG: "substituters =" },
  });
  const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
  return (await child.exited) === 0 ? { ok: true, value: JSON.parse(out) } : { ok: false, error: err };
}

async function value(modules: string, select: string, release?: string): Promise<any> {
  const result = await evalSystem(modules, select, release);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

async function failure(modules: string, select: string, release?: string): Promise<string> {
  const result = await evalSystem(modules, select, release);
  if (result.ok) throw new Error(`expected an evaluation error, got ${JSON.stringify(result.value)}`);
  return result.error;
}

describe("priorities", () => {
  it("mkForce beats a plain definition, which beats mkDefault, which beats the option default", async () => {
    expect(await value(`[ { time.timeZone = lib.mkDefault "A"; } { time.timeZone = "B"; } ]`, "config.time.timeZone")).toBe("B");
    expect(await value(`[ { time.timeZone = lib.mkForce "F"; } { time.timeZone = "B"; } ]`, "config.time.timeZone")).toBe("F");
    expect(await value(`[ { time.timeZone = lib.mkDefault "A"; } ]`, "config.time.timeZone")).toBe("A");
    expect(await value(`[ ]`, "config.time.timeZone")).toBe(null);
    expect(await value(`[ { time.timeZone = lib.mkOverride 10 "X"; } { time.timeZone = lib.mkForce "F"; } ]`, "config.time.timeZone")).toBe("X");
  });

  it("two different plain values for one option are an error naming both definitions", async () => {
    const error = await failure(`[ { time.timeZone = "A"; _file = "first.nix"; } { time.timeZone = "B"; _file = "second.nix"; } ]`, "config.time.timeZone");
    expect(error).toContain("The option `time.timeZone' has conflicting definition values");
    expect(error).toContain("first.nix");
    expect(error).toContain("second.nix");
  });

  it("equal values from two modules are fine", async () => {
    expect(await value(`[ { time.timeZone = "A"; } { time.timeZone = "A"; } ]`, "config.time.timeZone")).toBe("A");
  });
});

describe("merging", () => {
  it("concatenates lists from every module, mkBefore first", async () => {
    const ports = await value(
      `[ { networking.firewall.allowedUDPPorts = [ 5353 ]; } { networking.firewall.allowedUDPPorts = lib.mkBefore [ 67 ]; } { networking.firewall.allowedUDPPorts = [ 5355 ]; } ]`,
      "config.networking.firewall.allowedUDPPorts",
    );
    expect(ports).toEqual([67, 5353, 5355]);
  });

  it("merges attribute sets by name; mkIf false drops, mkMerge splits", async () => {
    const networks = await value(
      `[ { systemd.network.networks.a.address = [ "fe80::47/64" ]; }
         { systemd.network.networks.a.networkConfig.MulticastDNS = true; }
         { systemd.network.networks = lib.mkIf false { b.address = [ "x" ]; }; }
         (lib.mkMerge [ { systemd.network.networks.c.DHCP = "yes"; } { systemd.network.enable = true; } ]) ]`,
      "lib.mapAttrs (n: v: { inherit (v) address networkConfig DHCP; }) config.systemd.network.networks",
    );
    expect(networks).toEqual({
      a: { address: ["fe80::47/64"], networkConfig: { MulticastDNS: true }, DHCP: null },
      c: { address: [], networkConfig: {}, DHCP: "yes" },
    });
  });

  it("module functions get config, lib, options and modulesPath; imports resolve through modulesPath", async () => {
    const got = await value(
      `[ ({ config, lib, options, modulesPath, ... }: { imports = [ "\${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix" ]; networking.hostName = "live"; }) ]`,
      `{ variant = config.system.nixos.variant_id; hasIso = options ? isoImage; host = config.networking.hostName; }`,
    );
    expect(got).toEqual({ variant: "installer", hasIso: true, host: "live" });
  });

  it("defining an undeclared option is an error, as in NixOS", async () => {
    const error = await failure(`[ { networking.hostname = "typo"; _file = "typo.nix"; } ]`, "config.networking.hostName");
    expect(error).toContain("The option `networking.hostname' does not exist");
    expect(error).toContain("typo.nix");
  });

  it("a value of the wrong type is an error", async () => {
    const error = await failure(`[ { networking.firewall.allowedUDPPorts = [ 70000 ]; } ]`, "config.networking.firewall.allowedUDPPorts");
    expect(error).toContain("is not of type `16 bit unsigned integer");
  });
});

describe("networkd (nixpkgs assertOnlyFields)", () => {
  it("refuses a misspelt networkConfig key", async () => {
    const error = await failure(`[ { systemd.network.networks.live.networkConfig.MulticastDSN = true; } ]`, "config.systemd.network.networks.live.networkConfig");
    expect(error).toContain("Systemd Network has extra fields [MulticastDSN]");
  });

  it("accepts the real keys and refuses a value outside a key's allowed set", async () => {
    const ok = await value(
      `[ { systemd.network.networks.live.networkConfig = { MulticastDNS = "resolve"; LLMNR = false; IPv6LinkLocalAddressGenerationMode = "eui64"; LinkLocalAddressing = "ipv6"; IPv6AcceptRA = true; DHCP = "yes"; Address = "fe80::47/64"; DNS = "::1"; Domains = "~."; }; } ]`,
      "builtins.attrNames config.systemd.network.networks.live.networkConfig",
    );
    expect(ok).toHaveLength(9);
    const error = await failure(`[ { systemd.network.networks.live.networkConfig.IPv6LinkLocalAddressGenerationMode = "eui-64"; } ]`, "config.systemd.network.networks.live.networkConfig");
    expect(error).toContain("field `IPv6LinkLocalAddressGenerationMode' cannot have value `\"eui-64\"'");
  });
});

describe("releases (FLK_FIXTURE_NIXPKGS)", () => {
  it("25.11 declares services.resolved.settings and not extraConfig; 24.05 the other way round", async () => {
    const probe = `{ version = lib.version; settings = options.services.resolved ? settings; extraConfig = options.services.resolved ? extraConfig; }`;
    expect(await value("[ ]", probe, "25.11")).toEqual({ version: "25.11.20251120.fixture", settings: true, extraConfig: false });
    expect(await value("[ ]", probe, "24.05")).toEqual({ version: "24.05.20240801.fixture", settings: false, extraConfig: true });
    expect(await failure(`[ { services.resolved.extraConfig = "MulticastDNS=yes"; } ]`, "config.services.resolved", "25.11")).toContain("services.resolved.extraConfig' does not exist");
    expect(await failure(`[ { services.resolved.settings.Resolve.MulticastDNS = true; } ]`, "config.services.resolved", "24.05")).toContain("services.resolved.settings' does not exist");
  });

  it("renders resolved.conf from settings (25.11) or extraConfig (24.05)", async () => {
    const select = `config.environment.etc."systemd/resolved.conf".text`;
    expect(await value(`[ { services.resolved = { enable = true; settings.Resolve.MulticastDNS = true; }; } ]`, select, "25.11")).toBe("[Resolve]\nMulticastDNS=true\n");
    expect(await value(`[ { services.resolved = { enable = true; extraConfig = "MulticastDNS=yes"; }; } ]`, select, "24.05")).toContain("[Resolve]\nLLMNR=true\nDNSSEC=false\n\nMulticastDNS=yes");
  });
});

describe("the installer profile (nixpkgs installation-device.nix facts)", () => {
  it("has user nixos in wheel, sshd on by default with root login, nix trusting nixos, wireless, the firewall on", async () => {
    const got = await value(
      `[ ({ modulesPath, ... }: { imports = [ "\${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix" ]; }) ]`,
      `{ groups = config.users.users.nixos.extraGroups; normal = config.users.users.nixos.isNormalUser; sshd = config.services.openssh.enable;
         root = config.services.openssh.settings.PermitRootLogin; trusted = config.nix.settings.trusted-users; variant = config.system.nixos.variant_id;
         wireless = config.networking.wireless.enable; firewall = config.networking.firewall.enable; sudo = config.security.sudo.wheelNeedsPassword; }`,
    );
    expect(got).toEqual({ groups: ["wheel", "networkmanager", "video"], normal: true, sshd: true, root: "yes", trusted: ["nixos"], variant: "installer", wireless: true, firewall: true, sudo: false });
  });

  it("a host can still switch sshd off over the profile's mkDefault, and mkForce wins over the host", async () => {
    const cd = `({ modulesPath, ... }: { imports = [ "\${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix" ]; })`;
    expect(await value(`[ ${cd} { services.openssh.enable = false; } ]`, "config.services.openssh.enable")).toBe(false);
    expect(await value(`[ ${cd} { networking.wireless.enable = lib.mkForce false; } ]`, "config.networking.wireless.enable")).toBe(false);
  });

  it("writes authorized keys and key files to /etc/ssh/authorized_keys.d/<user> as the sshd module does", async () => {
    const text = await value(
      `[ { services.openssh.enable = true; users.users.nixos.openssh.authorizedKeys = { keys = [ "ssh-ed25519 AAAA one" ]; keyFiles = [ (builtins.toFile "k.pub" "ssh-ed25519 BBBB two") ]; }; } ]`,
      `{ text = config.environment.etc."ssh/authorized_keys.d/nixos".text; mode = config.environment.etc."ssh/authorized_keys.d/nixos".mode; }`,
    );
    expect(text).toEqual({ text: "ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n\n", mode: "0444" });
  });

  it("refuses a volume id longer than 32 characters (ISO9660)", async () => {
    const error = await failure(
      `[ ({ modulesPath, ... }: { imports = [ "\${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix" ]; isoImage.volumeID = "${"X".repeat(33)}"; }) ]`,
      "config.system.build.isoImage.drvPath",
    );
    expect(error).toContain("is 33 characters long, but the limit is 32");
  });
});
