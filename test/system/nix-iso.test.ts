/**
 * `flk iso NixOS` through buildIso() and the real nix: the fixture site's
 * ISO is built once and read back with xorriso. A probe plugin stands in
 * for "another enabled plugin" to show what the waterfall carries into the
 * image (site paths, /etc files, hook context).
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { definePlugin, nix, mergeSettings, type HostContext } from "../../core/index.ts";
import nixIso from "../../plugins/nix-iso/index.ts";
import { buildFixtureIso, FIXTURE_SITE, type FixtureIso } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";

const it = systemTest(["nix", "xorriso", "git"], { root: false });
const ALICE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlkAliceKeyForFlkTests alice@example\n";

/** Records what the waterfall handed it, and adds settings the way a plugin does. */
const seen: Array<{ imports: number; host: HostContext }> = [];
const probe = definePlugin({
  name: "probe",
  description: "test plugin contributing to the ISO",
  options: {},
  apply(flk) {
    flk.hooks.isoModule.tapPromise("probe", async (module, host) => {
      seen.push({ imports: module.imports.length, host });
      return {
        ...module,
        settings: mergeSettings(module.settings, {
          users: { users: { nixos: { openssh: { authorizedKeys: { keyFiles: [nix.path("secrets/keys/alice.pub")] } } } } },
          environment: { etc: { "flk-probe/secret": { text: "only root reads this\n", mode: "0600" } } },
          networking: { firewall: { allowedUDPPorts: [5353] } },
        }),
        files: [...module.files, "secrets/keys/alice.pub"],
        notes: [...module.notes, "probe was here"],
      };
    });
  },
});

let built: FixtureIso;
beforeAll(async () => {
  if (!existsSync(FIXTURE_SITE)) throw new Error("fixture missing");
  built = await buildFixtureIso({
    toml: 'plugins = ["nix-iso", "probe"]\n',
    plugins: [nixIso, probe],
    prepare(site) {
      mkdirSync(join(site, "secrets/keys"), { recursive: true });
      writeFileSync(join(site, "secrets/keys/alice.pub"), ALICE);
      // The host names itself "box": the live ISO must still answer to NixOS.local.
      const file = join(site, "hosts/NixOS.nix");
      writeFileSync(file, readFileSync(file, "utf8").replace("system.stateVersion", 'networking.hostName = "box";\n  system.stateVersion'));
    },
  });
});
afterAll(() => built?.cleanup());

describe("flk iso NixOS (fixture site, real nix and xorriso)", () => {
  it("produces result/iso/*.iso through the out-link in the site", () => {
    expect(built.iso).toStartWith(join(built.site, "result", "iso") + "/");
    expect(built.iso).toEndWith(".iso");
  });

  it("sets the live system's host name to the host, over the host's own name", () => {
    expect(built.config.networking.hostName).toBe("NixOS");
  });

  it("copies the site flake to /iso/devos: target /devos on the ISO root, which the live system mounts at /iso; tracked files, no .git", async () => {
    expect(await built.read("/iso/devos/flake.nix")).toBe(readFileSync(join(built.site, "flake.nix"), "utf8"));
    expect(await built.read("/iso/devos/hosts/Other/default.nix")).toBe(readFileSync(join(built.site, "hosts/Other/default.nix"), "utf8"));
    expect(await built.read("/iso/devos/secrets/keys/alice.pub")).toBe(ALICE);
    expect((await built.list()).some((p) => p.startsWith("/iso/devos/.git"))).toBe(false);
    expect((await built.list()).some((p) => p.startsWith("/iso/iso"))).toBe(false);
    expect(built.config.isoImage.contents).toEqual([{ source: expect.stringMatching(/^\/nix\/store\/[a-z0-9]{32}-source$/), target: "/devos" }]);
  });

  it("carries the full host's toplevel (not the ISO's) and the dev shell in the store, both built", async () => {
    const toplevel = built.storeContents.find((p) => /-nixos-system-box-25\.11\.[^/]*$/.test(p))!;
    const shell = built.storeContents.find((p) => p.endsWith("-devos-shell"))!;
    expect(readFileSync(join(toplevel, "hostname"), "utf8")).toBe("box\n");
    expect(existsSync(shell)).toBe(true);
    // On the stick: the closure is in its store (/nix/store on the live system).
    expect(await built.read(`${toplevel}/hostname`)).toBe("box\n");
    expect(await built.read(shell)).toBe("flk fixture dev shell\n");
  });

  it("records what it carries in /etc/flk/live.json: host, toplevel, flake copy, its narHash, no disko (contract 5)", async () => {
    const live = JSON.parse((await built.read("/etc/flk/live.json"))!);
    expect(Object.keys(live).sort()).toEqual(["diskoScript", "flake", "host", "narHash", "toplevel", "version"]);
    expect(live).toMatchObject({ version: 1, host: "NixOS", flake: "/iso/devos", diskoScript: null });
    expect(live.toplevel).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-box-/);
    expect(built.storeContents).toContain(live.toplevel);
    // The narHash is what `nix hash path` says of the copy on the stick.
    const copy = join(built.extracted, "devos");
    const hashed = Bun.spawnSync(["nix", "--extra-experimental-features", "nix-command", "hash", "path", copy], { env: { ...process.env, NIX_CONFIG: "substituters =" } });
    expect(hashed.stdout.toString().trim()).toBe(live.narHash);
  });

  it("names the image after the host", () => {
    expect(built.iso).toMatch(/\/nixos-NixOS-25\.11\.[^/]+\.iso$/);
  });

  it("labels the image with isoImage.volumeID (what root=LABEL= finds)", async () => {
    expect(built.config.isoImage.volumeID).toBe("FLK-NIXOS");
    const child = Bun.spawn(["xorriso", "-indev", built.iso, "-pvd_info"], { stdout: "pipe", stderr: "pipe" });
    const out = (await new Response(child.stdout).text()) + (await new Response(child.stderr).text());
    expect(out).toMatch(/Volume Id\s*:\s*FLK-NIXOS\b/);
  });

  it("reports the size and a sha256 that sha256sum agrees with", async () => {
    const child = Bun.spawn(["sha256sum", built.iso], { stdout: "pipe" });
    expect(built.result.sha256).toBe((await new Response(child.stdout).text()).split(" ")[0]!);
    expect(built.result.size).toBe(Bun.file(built.iso).size);
  });

  it("carries another plugin's settings: key files from the flake source into authorized_keys.d", async () => {
    expect(await built.read("/etc/ssh/authorized_keys.d/nixos")).toContain(ALICE.trim());
    const [keyFile] = built.config.users.users.nixos.openssh.authorizedKeys.keyFiles as [string];
    expect(keyFile).toMatch(/^\/nix\/store\/[a-z0-9]{32}-source\/secrets\/keys\/alice\.pub$/);
    expect(built.config.networking.firewall.allowedUDPPorts).toEqual([5353]);
  });

  it("keeps an /etc file's mode (copied, not linked)", async () => {
    expect(await built.read("/etc/flk-probe/secret")).toBe("only root reads this\n");
    expect(built.mode("/etc/flk-probe/secret")).toBe(0o600);
  });

  it("runs the waterfall after its own module, with the host's context", () => {
    expect(seen).toHaveLength(1);
    expect(seen[0]!.host).toEqual({ host: "NixOS", siteRoot: built.site });
    expect(seen[0]!.imports).toBe(1);
  });

  it("from source (bun), carries no flk and says how to build it", () => {
    expect(built.config.environment.systemPackages.some((p: string) => /-flk$/.test(p))).toBe(false);
  });
});

describe("flk iso on the nixpkgs 24.05 option set", () => {
  let old: FixtureIso;
  beforeAll(async () => {
    old = await buildFixtureIso({ toml: 'plugins = ["nix-iso"]\n', nixpkgs: "24.05", host: "Other" });
  });
  afterAll(() => old?.cleanup());

  it("builds the second host (a hosts/NAME/default.nix) with the older release", async () => {
    expect(old.config.system.nixos.release).toBe("24.05");
    expect(old.config.networking.hostName).toBe("Other");
    expect(old.config.time.timeZone).toBe("Europe/Berlin");
    expect(old.iso).toContain("24.05");
    expect(old.config.isoImage.volumeID).toBe("FLK-OTHER");
  });
});
