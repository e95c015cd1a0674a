/**
 * Files a plugin's ISO module refers to must be visible to Nix: in a git
 * flake only tracked files are. flk refuses before building (exit 2) and
 * says which `git add` to run. A probe plugin stands in for ssh-keys & co.
 */
import { afterAll, describe, expect } from "bun:test";
import { existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createFlk } from "../../core/context.ts";
import { definePlugin, isFlkError, mergeSettings, nix, type IsoModule } from "../../core/index.ts";
import nixIso from "../../plugins/nix-iso/index.ts";
import { buildIso } from "../../plugins/nix-iso/build.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";

const it = systemTest(["nix", "git"], { root: false });
const sites: string[] = [];
afterAll(() => {
  for (const dir of sites) rmSync(dir, { recursive: true, force: true });
});

/** A plugin whose ISO contribution is `contribute(module)`. */
function probe(contribute: (module: IsoModule, host: string) => IsoModule) {
  return definePlugin({
    name: "probe",
    description: "test plugin",
    options: {},
    apply(flk) {
      flk.hooks.isoModule.tapPromise("probe", async (module, context) => contribute(module, context.host));
    },
  });
}

/** Run buildIso on a fresh fixture copy with an untracked secrets/keys/alice.pub; return the refusal. */
async function refusalWith(contribute: (module: IsoModule, host: string) => IsoModule, toml = 'plugins = ["nix-iso", "probe"]\n', request: { hosts?: string[]; all?: boolean } = { hosts: ["NixOS"] }) {
  const site = await copyFixtureSite({ toml });
  sites.push(site);
  mkdirSync(join(site, "secrets/keys"), { recursive: true });
  writeFileSync(join(site, "secrets/keys/alice.pub"), "ssh-ed25519 AAAA alice\n"); // after the commit: untracked
  const env = { ...process.env, ...fixtureNixEnv() };
  const flk = createFlk({ plugins: [nixIso, probe(contribute)], cwd: site, env });
  try {
    await buildIso(flk, { ...request, env });
  } catch (error) {
    if (!isFlkError(error)) throw error;
    return { error, site, built: existsSync(join(site, "result")) || isLink(join(site, "result")) };
  }
  throw new Error("expected buildIso to refuse");
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

describe("referenced files must be tracked by git", () => {
  it("refuses an untracked file listed in IsoModule.files, naming it and the git add command", async () => {
    const { error, site, built } = await refusalWith((m) => ({ ...m, files: [...m.files, "secrets/keys/alice.pub"] }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain("`secrets/keys/alice.pub` is not tracked by git, so Nix cannot see it");
    expect(error.message).toContain(`Run \`git -C ${site} add secrets/keys/alice.pub\``);
    expect(built).toBe(false);
  });

  it("refuses an untracked nix.path anywhere in the settings tree, even when not listed in files", async () => {
    const { error, built } = await refusalWith((m) => ({
      ...m,
      settings: mergeSettings(m.settings, { users: { users: { root: { openssh: { authorizedKeys: { keyFiles: [nix.path("secrets/keys/alice.pub")] } } } } } }),
    }));
    expect(error.code).toBe("E_ISO_FILE_UNTRACKED");
    expect(error.message).toContain("secrets/keys/alice.pub");
    expect(built).toBe(false);
  });

  it("refuses a file that does not exist at all", async () => {
    const { error, built } = await refusalWith((m) => ({ ...m, files: [...m.files, "secrets/keys/nobody.pub"] }));
    expect(error.code).toBe("E_ISO_FILE_MISSING");
    expect(error.message).toContain("`secrets/keys/nobody.pub`");
    expect(built).toBe(false);
  });
});

describe("--all", () => {
  it("names the untracked files of every host in one refusal with one git add", async () => {
    const { error, site, built } = await refusalWith(
      (m, host) => {
        mkdirSync(join(sites.at(-1)!, "secrets/hosts", host), { recursive: true });
        writeFileSync(join(sites.at(-1)!, "secrets/hosts", host, "key"), host);
        return { ...m, files: [...m.files, `secrets/hosts/${host}/key`] };
      },
      undefined,
      { all: true },
    );
    expect(error.message).toContain(`Run \`git -C ${site} add secrets/hosts/NixOS/key secrets/hosts/Other/key secrets/hosts/Wired/key\``);
    expect(built).toBe(false);
    expect(isLink(join(site, "result-1")) || isLink(join(site, "result-2"))).toBe(false);
  });
});

describe("configuration refusals", () => {
  it("refuses a copyTo that is not under /iso/, saying that NixOS mounts the ISO's root there", async () => {
    for (const copyTo of ["iso/devos", "/devos"]) {
      const { error, built } = await refusalWith((m) => m, `plugins = ["nix-iso", "probe"]\n[nix-iso]\ncopyTo = "${copyTo}"\n`);
      expect(error.exitCode).toBe(2);
      expect(error.message).toContain(`[nix-iso] copyTo = '${copyTo}': the flake copy can only appear under /iso/ on the live system, because NixOS mounts the ISO's root at /iso`);
      expect(built).toBe(false);
    }
  });

  it("refuses when a plugin sets nix-iso's host name differently (merge conflict names the option)", async () => {
    const { error, built } = await refusalWith((m) => ({ ...m, settings: mergeSettings(m.settings, { networking: { hostName: "other" } }) }));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain("`networking.hostName`");
    expect(built).toBe(false);
  });
});
