/**
 * The whole story, as an operator runs it, with the compiled binary at every
 * step and real parts throughout: ssh-keygen, nix, xorriso, a loop device,
 * avahi-daemon, sshd and the kernel's IPv6 stack in network namespaces.
 * The one stand-in is nixos-install (not packaged for Debian): a recording
 * script first on the live side's PATH.
 *
 *   flk keys add → flk iso NixOS → flk write → (read the stick back) →
 *   boot a "live installer" from what is on the stick → flk resolve →
 *   flk ssh → flk install --target → and the fallbacks without mDNS and
 *   without fe80::47.
 *
 * Reading the stick and booting it is test/helpers/live-installer.ts, the
 * same module `npm run demo` uses.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { FLK } from "../helpers/binary.ts";
import pkg from "../../package.json" with { type: "json" };
import { LIVE_NETWORK } from "../../core/live.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { linkLocal } from "../helpers/netns.ts";
import { Cleanups } from "../helpers/cleanups.ts";
import { attachLoop, bootLiveInstaller, LIVE_FLAKE, LIVE_IPV4, readStick, stickPath, type LiveInstaller } from "../helpers/live-installer.ts";
import { sh, type Ran } from "../helpers/sh.ts";
import { createMachine, type Machine } from "../plugins/installer/fixtures.ts";

const it = systemTest(["nix", "xorriso", "git", "ssh-keygen", "ssh", "ssh-agent", "sshd", "avahi-daemon", "ip", "ping", "losetup", "partx", "unshare", "chroot", "mkfs.ext4", "mkswap", "blkid", "findmnt", "sudo", "visudo", "useradd"]);

/** FLK_STORY_TRANSCRIPT=FILE records every flk command and its output (to refresh the README's excerpts). */
const TRANSCRIPT = process.env.FLK_STORY_TRANSCRIPT;

async function run(argv: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Ran> {
  const r = await sh(argv, { cwd: options.cwd, env: { NO_COLOR: "1", ...options.env } });
  if (TRANSCRIPT && argv.includes(FLK)) appendFileSync(TRANSCRIPT, `$ flk ${argv.slice(argv.indexOf(FLK) + 1).join(" ")}\n${r.stdout}${r.stderr}[exit ${r.code}]\n\n`);
  return r;
}

async function must(argv: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await run(argv, options);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** State the steps share, in the order the story builds it up. */
const story = {
  dir: "",
  site: "",
  clientKey: "",
  agent: {} as Record<string, string>,
  iso: "",
  sha256: "",
  stick: "",
  /** The live root: the stick's ISO root at <liveRoot>/iso. */
  liveRoot: "",
  machine: undefined as Machine | undefined,
  live: undefined as LiveInstaller | undefined,
};
const cleanups = new Cleanups();
/** A file of the live system as the stick holds it (`/etc/…`, `/iso/…`, `/nix/store/…`). */
const onStick = (path: string) => readFileSync(stickPath(story.liveRoot, path), "utf8");

/** Run dist/flk in the operator's network namespace, in the site, with the agent holding the operator's key. */
function flkOnLink(args: string[]): Promise<Ran> {
  return run(["ip", "netns", "exec", story.live!.operator.name, FLK, ...args], { cwd: story.site, env: { ...story.agent } });
}

beforeAll(async () => {
  story.dir = mkdtempSync(join(tmpdir(), "flk-story-"));
  cleanups.add("story dir", () => rmSync(story.dir, { recursive: true, force: true }));
  story.machine = await createMachine();
  cleanups.add("machine", () => story.machine?.cleanup());
  story.liveRoot = join(story.dir, "live");
  const m = story.machine;
  // The operator's site: the fixture flake in git, with the installer pointed
  // at this test's disks (random labels) and the flake copy on the live system.
  story.site = await copyFixtureSite({
    toml: [
      'plugins = ["nix-iso", "dd-writer", "mdns", "ipv6-lla", "ssh-keys", "installer"]',
      "[installer]",
      `root = "${m.root}"`,
      `labels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }`,
      "",
    ].join("\n"),
  });
  cleanups.add("site", () => rmSync(story.site, { recursive: true, force: true }));
}, 60_000);

afterAll(async () => {
  const failed = await cleanups.run();
  if (failed.length) console.warn(`story clean-up: ${failed.join("; ")}`);
});

describe("the operator's story, every step through dist/flk", () => {
  it("1. flk keys add stores the operator's ssh-keygen key and stages it for Nix", async () => {
    story.clientKey = join(story.dir, "id_ed25519");
    await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "operator@story", "-f", story.clientKey]);
    const added = await run([FLK, "keys", "add", `${story.clientKey}.pub`, "--name", "operator", "--git-add"], { cwd: story.site });
    expect(added.code).toBe(0);
    const fingerprint = (await must(["ssh-keygen", "-lf", `${story.clientKey}.pub`])).split(" ")[1]!;
    const listed = JSON.parse((await must([FLK, "keys", "list", "--json"], { cwd: story.site })));
    expect(listed).toEqual([expect.objectContaining({ name: "operator", fingerprint, file: "secrets/keys/operator.pub" })]);
    expect((await must(["git", "ls-files", "secrets/keys"], { cwd: story.site })).split("\n")).toContain("secrets/keys/operator.pub");
    // The operator's ssh-agent holds the key, as it would on a workstation.
    const agent = await must(["ssh-agent", "-a", join(story.dir, "agent.sock"), "-s"]);
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent)![1]!;
    cleanups.add("ssh-agent", () => process.kill(Number(pid)));
    story.agent = { SSH_AUTH_SOCK: join(story.dir, "agent.sock") };
    await must(["ssh-add", "-q", story.clientKey], { env: story.agent });
  });

  it("2. flk iso NixOS builds through the real nix at once: the host key stays in the operator's state dir, its public half is pinned in the site", async () => {
    const env = { ...fixtureNixEnv(), XDG_STATE_HOME: join(story.dir, "state") };
    // No `git add` stop: the ISO takes the private key from the state dir, and known_hosts is not needed to build.
    const built = await run([FLK, "iso", "NixOS", "--json"], { cwd: story.site, env });
    expect(built.code).toBe(0);
    expect(built.stderr).toContain("recorded its public half in secrets/hosts/NixOS/known_hosts");
    expect(existsSync(join(story.site, "secrets/hosts/NixOS/ssh_host_ed25519_key"))).toBe(false);
    const result = (JSON.parse(built.stdout) as { hosts: Array<{ host: string; iso: string; size: number; sha256: string }> }).hosts[0]!;
    expect(result.host).toBe("NixOS");
    expect(result.iso).toMatch(/\/result\/iso\/[^/]+\.iso$/);
    expect(result.size).toBe(statSync(result.iso).size);
    expect(result.sha256).toBe((await must(["sha256sum", result.iso])).split(" ")[0]!);
    story.iso = result.iso;
    story.sha256 = result.sha256;
  }, 300_000);

  it("3. flk write flashes it to a loop device, verified; the stick holds the key, host name, mDNS, link-local settings and /iso/devos", async () => {
    // A "stick" a few MiB larger than the image, as a real one is.
    story.stick = await attachLoop(join(story.dir, "stick.img"), statSync(story.iso).size + (8 << 20), cleanups);
    const written = await run([FLK, "write", story.iso, story.stick, "--sha256", story.sha256, "--yes"], { cwd: story.site });
    expect(written.code).toBe(0);
    expect(written.stderr).toMatch(/verif/i);
    // Read back from the device itself, as a machine booting it would.
    await readStick(story.stick, story.liveRoot);
    expect(onStick("/etc/ssh/authorized_keys.d/nixos")).toContain(readFileSync(`${story.clientKey}.pub`, "utf8").trim());
    // The default users: the keys are for nixos only.
    expect(existsSync(stickPath(story.liveRoot, "/etc/ssh/authorized_keys.d/root"))).toBe(false);
    expect(JSON.parse(onStick("/flk/config.json")).networking.hostName).toBe("NixOS");
    const network = onStick(`/etc/systemd/network/${LIVE_NETWORK.name}.network`);
    expect(network).toContain("MulticastDNS=true");
    expect(network).toContain("Address=fe80::47/64");
    expect(network).toContain("IPv6LinkLocalAddressGenerationMode=eui64");
    expect(onStick("/etc/systemd/resolved.conf")).toMatch(/MulticastDNS=(true|yes)/);
    const flake = stickPath(story.liveRoot, LIVE_FLAKE);
    expect(readFileSync(join(flake, "flake.nix"), "utf8")).toBe(readFileSync(join(story.site, "flake.nix"), "utf8"));
    expect(readFileSync(join(flake, "secrets/keys/operator.pub"), "utf8")).toBe(readFileSync(join(story.site, "secrets/keys/operator.pub"), "utf8"));
    expect(onStick("/etc/ssh/ssh_host_ed25519_key.pub").split(" ").slice(0, 2).join(" ")).toBe(
      readFileSync(join(story.site, "secrets/hosts/NixOS/known_hosts"), "utf8").split("\n").find((l) => l.startsWith("flk-live-nixos"))!.split(" ").slice(1, 3).join(" "),
    );
  }, 120_000);

  it("4. a live installer booted from the stick is found by flk resolve NixOS.local (IPv4, fe80::47, EUI-64)", async () => {
    // sshd as the ISO configures it (the stick's host key and nixos's
    // authorized keys, on every address of the link), avahi announcing the
    // stick's host name, the stand-in nixos-install on the live PATH.
    story.live = await bootLiveInstaller({ root: story.liveRoot, standInBin: story.machine!.bin, cleanups });
    const live = story.live;
    const eui64 = live.eui64;
    const resolved = await flkOnLink(["resolve", "NixOS.local", "--json"]);
    expect(resolved.code).toBe(0);
    const answer = JSON.parse(resolved.stdout) as { name: string; addresses: Array<{ address: string; scope?: string; family: number; source: string }> };
    expect(answer.name).toBe("NixOS.local");
    const found = answer.addresses.map((a) => (a.scope ? `${a.address}%${a.scope}` : a.address));
    expect(found).toEqual(expect.arrayContaining([LIVE_IPV4, `fe80::47%${live.operator.iface}`, `${eui64}%${live.operator.iface}`]));
  }, 60_000);

  it("5. flk ssh NixOS logs in as nixos with the operator's key and verifies the pinned host key", async () => {
    const r = await flkOnLink(["ssh", "NixOS", "--", "echo", "logged-in-as-$(id -un)"]);
    expect(r.stderr).toContain(`nixos@${LIVE_IPV4} (found by mdns)`);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("logged-in-as-nixos");
    expect(story.live!.sshd.log()).toContain("Accepted publickey for nixos");
  }, 60_000);

  it("6. flk install NixOS --target runs preflight and plan on the live installer: labelled disks mounted, stand-in nixos-install called, --undo unmounts", async () => {
    const m = story.machine!;
    await m.disk("ext4", m.labels.root);
    await m.disk("ext4", m.labels.boot);
    await m.disk("swap", m.labels.swap);
    // As nixos, the plan runs through sudo (passwordless on the live ISO).
    const installed = await flkOnLink(["install", "NixOS", "--target", "nixos@NixOS"]);
    // Offline: the stick's /etc/flk/live.json names NixOS's toplevel, which its store carries, and the
    // flake copy hashes to the recorded narHash: nixos-install gets --system, nothing is evaluated.
    const toplevel = (JSON.parse(onStick("/etc/flk/live.json")) as { toplevel: string }).toplevel;
    expect(toplevel).toMatch(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-NixOS-/);
    expect(existsSync(stickPath(story.liveRoot, toplevel))).toBe(true);
    expect(installed.stderr).toContain(`stand-in nixos-install: --system ${toplevel}`);
    expect(installed.code).toBe(0);
    // The mounts live in sshd's mount namespace: look from inside, over flk ssh.
    const mountedThere = async () =>
      (await flkOnLink(["ssh", "NixOS", "--", "findmnt", "-rn", "-o", "TARGET"])).stdout.split("\n").filter((t) => t === m.root || t.startsWith(`${m.root}/`)).sort();
    expect(await mountedThere()).toEqual([m.root, `${m.root}/boot`]);
    const devos = LIVE_FLAKE;
    // The stand-in saw the flake copy from the stick, the target root and both filesystems mounted.
    expect(m.calls().map((c) => [c.cwd, c.argv])).toEqual([[devos, ["--system", toplevel, "--root", m.root]]]);
    expect(m.calls()[0]!.mounts.sort()).toEqual([`${m.root} ${m.devices[0]}`, `${m.root}/boot ${m.devices[1]}`].sort());
    const undone = await flkOnLink(["install", "--undo", "--target", "nixos@NixOS"]);
    expect(undone.code).toBe(0);
    expect(await m.swapping()).toEqual([]);
    expect(await mountedThere()).toEqual([]);
  }, 120_000);

  it("7. with the mDNS responder stopped, flk ssh still reaches the installer on fe80::47", async () => {
    await story.live!.avahi.stop();
    const gone = await flkOnLink(["resolve", "NixOS.local", "--timeout", "500"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("flk lla discover");
    const r = await flkOnLink(["ssh", "NixOS", "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`nixos@fe80::47%${story.live!.operator.iface} (found by static)`);
  }, 60_000);

  it("8. with fe80::47 removed as well, flk ssh finds the installer as an EUI-64 neighbour", async () => {
    const live = story.live!.live;
    await must(["ip", "netns", "exec", live.name, "ip", "-6", "addr", "del", "fe80::47/64", "dev", live.iface]);
    const eui64 = await linkLocal(live);
    const r = await flkOnLink(["ssh", "NixOS", "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`nixos@${eui64}%${story.live!.operator.iface} (found by eui64)`);
  }, 60_000);

  it("9. on the live installer, where /lib64's loader is NixOS's stub, the flk the stick carries runs and installs from /iso/devos (cd /iso/devos; sudo flk install NixOS)", async () => {
    const m = story.machine!;
    // The stick's flk is on the live PATH as its wrapper; it prints flk's version, not Bun's.
    const which = await flkOnLink(["ssh", "NixOS", "--", 'readlink -f "$(command -v flk)"; flk --version']);
    expect(which.code).toBe(0);
    expect(which.stdout).toMatch(new RegExp(`^/nix/store/[a-z0-9]{32}-flk/bin/flk\n${pkg.version.replaceAll(".", "\\.")}\n$`));
    // Control: the stub is in place — dist/flk started directly fails there as a generic binary does on NixOS.
    const direct = await flkOnLink(["ssh", "NixOS", "--", `${FLK} --version`]);
    expect(direct.code).not.toBe(0);
    expect(direct.stderr).toContain("Could not start dynamically linked executable");
    // The seed's last step, with the site's labels and root from the flake copy's flk.toml.
    const installed = await flkOnLink(["ssh", "NixOS", "--", "cd /iso/devos && sudo flk install NixOS"]);
    expect(installed.code).toBe(0);
    const call = m.calls().at(-1)!;
    // It mounted the target itself (step 6 undid its own), and called the stand-in once more, from the flake copy.
    expect(installed.stderr).toContain(`at ${m.root}: mount ${m.devices[0]} ${m.root}`);
    expect(m.calls().length).toBe(2);
    // The same offline decision on the stick itself: the recorded system, no evaluation.
    expect(call.argv).toEqual(["--system", (JSON.parse(onStick("/etc/flk/live.json")) as { toplevel: string }).toplevel, "--root", m.root]);
    expect(call.cwd).toBe(LIVE_FLAKE);
    expect(call.mounts.sort()).toEqual([`${m.root} ${m.devices[0]}`, `${m.root}/boot ${m.devices[1]}`].sort());
    const undone = await flkOnLink(["ssh", "NixOS", "--", "cd /iso/devos && sudo flk install --undo"]);
    expect(undone.code).toBe(0);
    expect(await m.swapping()).toEqual([]);
  }, 120_000);
});
