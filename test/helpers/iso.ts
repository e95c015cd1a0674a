/**
 * Build the fixture site's live ISO with the real nix and read it back.
 *
 * The fixture (test/fixtures/site/) is a devos-style flake with hosts
 * `NixOS` (hosts/NixOS.nix) and `Other` (hosts/Other/default.nix), an empty
 * secrets/keys/, and a small stand-in of nixpkgs' module system under
 * nixos/ (no real nixpkgs: it cannot be fetched here). Its isoImage is a
 * real ISO9660 image made by xorriso whose root is what NixOS mounts at /iso
 * (see the fixture's iso-image.nix). `read`, `mode` and `list` take paths as
 * the live system sees them (livePath maps them onto the image):
 *   - /iso/<target>: the isoImage.contents entries (the site copy at
 *     /iso/devos for copyTo /iso/devos, target /devos);
 *   - /nix/store/<path>: the closure of isoImage.storeContents (on the image
 *     /nix-store/, the stand-in for /nix-store.squashfs);
 *   - /etc/<name> for each environment.etc entry, with its mode (on the
 *     image /flk/etc/); sshd's /etc/ssh/authorized_keys.d/<user> and
 *     sshd_config, networkd's /etc/systemd/network/<unit>.network,
 *     /etc/systemd/resolved.conf, /etc/avahi/avahi-daemon.conf and flk's
 *     /etc/flk/live.json are rendered from the options like NixOS;
 *   - /flk/config.json: the evaluated config (defined options; paths and
 *     derivations as strings; system.build left out);
 *   - /flk/store-contents.json: isoImage.storeContents as store paths.
 * Defining an option the chosen release does not declare, a misspelt
 * networkd networkConfig key, or two different values for one option fails
 * the build, as in NixOS.
 *
 * Usage (build once per test file, assert many things):
 *
 *   import { buildFixtureIso, type FixtureIso } from "../helpers/iso.ts";
 *   let built: FixtureIso;
 *   beforeAll(async () => { built = await buildFixtureIso({ toml: 'plugins = ["nix-iso", "mdns"]' }); });
 *   afterAll(() => built?.cleanup());
 *   test("…", async () => {
 *     expect(built.config.networking.hostName).toBe("NixOS");
 *     expect(await built.read("/etc/systemd/resolved.conf")).toContain("MulticastDNS=true");
 *     expect(built.mode("/etc/ssh/ssh_host_ed25519_key")).toBe(0o600);
 *   });
 *
 * Options:
 *   toml     flk.toml text written at the site root (default: none, so all plugins on).
 *   host     host to build (default "NixOS").
 *   nixpkgs  "25.11" (default: has services.resolved.settings, no extraConfig)
 *            or "24.05" (has services.resolved.extraConfig, no settings).
 *   prepare  async (siteDir) => { … } runs after the copy, before `git add -A`
 *            and the commit (write keys, hosts, …: they end up tracked).
 *   plugins  plugin objects to register (default: the six built-in ones);
 *            which are enabled is flk.toml's business.
 *   env      extra environment for nix and flk. Without XDG_STATE_HOME here,
 *            a private one is made (and removed by cleanup()), so the
 *            installer host key never lands in the real ~/.local/state/flk.
 * Result:
 *   site     the temp site (a git repo); `result` out-link inside it.
 *   state    the XDG_STATE_HOME flk used (holds flk/sites/…/HOST/ssh_host_ed25519_key).
 *   iso      absolute path of the built image.
 *   result   buildIso()'s { host, iso, size, sha256 }.
 *   config   parsed /flk/config.json.
 *   storeContents  parsed /flk/store-contents.json.
 *   read(p)  text of /p in the image, or undefined when absent.
 *   mode(p)  permission bits of /p (Rock Ridge keeps them), or undefined.
 *   list()   every path in the image, sorted ("/etc/ssh/sshd_config", …).
 *   cleanup() remove the temp site and the extraction.
 * Needs nix, git and xorriso on PATH (use systemTest(["nix", "xorriso", "git"], { root: false })).
 * Failures throw the FlkError buildIso() threw (message holds nix's last lines).
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createFlk } from "../../core/context.ts";
import type { FlkPlugin } from "../../core/plugin.ts";
import { buildIso, type IsoResult } from "../../plugins/nix-iso/build.ts";
import nixIso from "../../plugins/nix-iso/index.ts";
import ddWriter from "../../plugins/dd-writer/index.ts";
import mdns from "../../plugins/mdns/index.ts";
import ipv6Lla from "../../plugins/ipv6-lla/index.ts";
import sshKeys from "../../plugins/ssh-keys/index.ts";
import installer from "../../plugins/installer/index.ts";

/** The fixture site in the repository (copy it; never build in place). */
export const FIXTURE_SITE = resolve(import.meta.dir, "..", "fixtures", "site");

/** The six built-in plugins, in the binary's order. */
export const ALL_PLUGINS: readonly FlkPlugin<any>[] = [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer];

/**
 * Environment every fixture nix run needs: no substituters (no network
 * here) and no sandbox (the fixture's builders run the host's xorriso).
 */
export function fixtureNixEnv(nixpkgs: "25.11" | "24.05" = "25.11"): Record<string, string> {
  return { NIX_CONFIG: "substituters =\nsandbox = false", FLK_FIXTURE_NIXPKGS: nixpkgs };
}

export interface FixtureIsoOptions {
  toml?: string;
  host?: string;
  nixpkgs?: "25.11" | "24.05";
  prepare?: (siteDir: string) => void | Promise<void>;
  plugins?: readonly FlkPlugin<any>[];
  env?: Record<string, string>;
}

export interface FixtureIso {
  site: string;
  state: string;
  /** The extracted image root (what the live system mounts at /iso). */
  extracted: string;
  iso: string;
  result: IsoResult;
  config: any;
  storeContents: string[];
  read(pathInIso: string): Promise<string | undefined>;
  mode(pathInIso: string): number | undefined;
  list(): Promise<string[]>;
  cleanup(): void;
}

/** Copy the fixture to a temp dir and make it a git repo with one commit (so git-tracking rules apply). */
export async function copyFixtureSite(options: Pick<FixtureIsoOptions, "toml" | "prepare"> = {}): Promise<string> {
  const site = mkdtempSync(join(tmpdir(), "flk-site-"));
  cpSync(FIXTURE_SITE, site, { recursive: true });
  if (options.toml !== undefined) writeFileSync(join(site, "flk.toml"), options.toml);
  await options.prepare?.(site);
  await git(site, ["init", "-q"]);
  await git(site, ["add", "-A"]);
  await git(site, ["-c", "user.name=flk test", "-c", "user.email=flk@test.invalid", "commit", "-q", "-m", "fixture site"]);
  return site;
}

/** Build the fixture ISO through buildIso() (the library `flk iso` runs) and extract it. */
export async function buildFixtureIso(options: FixtureIsoOptions = {}): Promise<FixtureIso> {
  const site = await copyFixtureSite(options);
  const ownState = options.env?.XDG_STATE_HOME ? undefined : mkdtempSync(join(tmpdir(), "flk-state-"));
  const env = { ...process.env, ...fixtureNixEnv(options.nixpkgs), ...(ownState ? { XDG_STATE_HOME: ownState } : {}), ...options.env };
  const extracted = mkdtempSync(join(tmpdir(), "flk-iso-x-"));
  const cleanup = () => {
    rmSync(site, { recursive: true, force: true });
    removeExtracted(extracted);
    if (ownState) rmSync(ownState, { recursive: true, force: true });
  };
  try {
    const flk = createFlk({ plugins: options.plugins ?? ALL_PLUGINS, cwd: site, env, flags: { color: false } });
    const [result] = await buildIso(flk, { hosts: [options.host ?? "NixOS"], env });
    await extractIso(result!.iso, extracted);
    const file = (p: string) => join(extracted, livePath(p));
    return {
      site,
      state: env.XDG_STATE_HOME!,
      extracted,
      iso: result!.iso,
      result: result!,
      config: JSON.parse(readFileSync(file("/flk/config.json"), "utf8")),
      storeContents: JSON.parse(readFileSync(file("/flk/store-contents.json"), "utf8")),
      read: async (p) => (existsSync(file(p)) ? readFileSync(file(p), "utf8") : undefined),
      mode: (p) => (existsSync(file(p)) ? statSync(file(p)).mode & 0o7777 : undefined),
      list: async () => walk(extracted, "").map(liveView).sort(),
      cleanup,
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/**
 * Where a path of the live system lies on the fixture's image (relative to
 * the image root): /iso/X is X (NixOS mounts the image root at /iso),
 * /etc/X is flk/etc/X, /nix/store/X is nix-store/X; the fixture's own /flk/
 * files stay where they are.
 */
export function livePath(path: string): string {
  const p = "/" + path.replace(/^\/+/, "");
  if (p.startsWith("/iso/")) return p.slice("/iso/".length);
  if (p.startsWith("/etc/")) return "flk" + p;
  if (p.startsWith("/nix/store/")) return "nix-store/" + p.slice("/nix/store/".length);
  return p.slice(1);
}

/** The live system's path of an image path (livePath's inverse). */
function liveView(imagePath: string): string {
  if (imagePath.startsWith("/flk/etc/") || imagePath === "/flk/etc") return imagePath.slice("/flk".length);
  if (imagePath.startsWith("/nix-store/")) return "/nix/store/" + imagePath.slice("/nix-store/".length);
  if (imagePath.startsWith("/flk/") || imagePath === "/flk" || imagePath === "/nix-store") return imagePath;
  return "/iso" + imagePath;
}

/** Remove an extraction: the store paths in it keep the store's read-only modes, so make it writable first. */
export function removeExtracted(dir: string): void {
  Bun.spawnSync(["chmod", "-R", "u+w", dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Extract a whole ISO9660 image into `dest` with xorriso (Rock Ridge: names and modes kept). */
export async function extractIso(iso: string, dest: string): Promise<void> {
  const child = Bun.spawn(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dest], { stdout: "pipe", stderr: "pipe" });
  const stderr = await new Response(child.stderr).text();
  if ((await child.exited) !== 0) throw new Error(`xorriso could not extract ${iso}: ${stderr}`);
}

function walk(root: string, at: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, at), { withFileTypes: true })) {
    const path = `${at}/${entry.name}`;
    out.push(path);
    if (entry.isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

async function git(cwd: string, args: string[]): Promise<void> {
  const child = Bun.spawn(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const stderr = await new Response(child.stderr).text();
  if ((await child.exited) !== 0) throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${stderr}`);
}
