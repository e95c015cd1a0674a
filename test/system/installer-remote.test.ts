/**
 * flk install over ssh: a real sshd in a network namespace (test/helpers/sshd.ts),
 * the client in the peer namespace, the live installer found through the
 * `locate` hook by a clearly named test plugin that also adds the ssh
 * options (key, pinned host key) the way ssh-keys does. sshd shares this
 * machine's filesystem, but `ip netns exec` gives it its own mount namespace
 * (a slave of ours): the remote mounts are real, seen only from inside (so
 * checked over ssh), and vanish when sshd stops; swap is machine-wide and
 * the fixture turns it off.
 */
import { afterEach, describe, expect } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Link } from "../helpers/netns.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { definePlugin, type Endpoint } from "../../core/index.ts";
import { install } from "../../plugins/installer/install.ts";
import { installerHooks } from "../../plugins/installer/hooks.ts";
import { remoteTransport } from "../../plugins/installer/remote.ts";
import { FLK } from "../helpers/binary.ts";
import { refusal, snapshot } from "../helpers/refusal.ts";
import { bareDisk, createMachine, FACTER_REPORT, machineFlk, sh, useFixtureSite, writeFacterStandIn, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["ip", "sshd", "ssh", "ssh-keygen", "losetup", "mkfs.ext4", "mkswap", "blkid", "findmnt", "mount", "swapon", "nix", "git"]);

let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups = [];
});

interface Live {
  machine: Machine;
  link: Link;
  sshd: Sshd;
  plugin: ReturnType<typeof definePlugin>;
  ssh: string[];
  /** Run a command on the live side over ssh with the plugin's options. */
  remote(command: string): Promise<string>;
}

/** A live installer: loop disks, sshd in namespace a with the stand-in first on its PATH, the client in namespace b. */
async function startLive(options: { labelled?: boolean } = {}): Promise<Live> {
  const machine = await createMachine();
  cleanups.push(() => machine.cleanup());
  if (options.labelled ?? true) {
    await machine.disk("ext4", machine.labels.root);
    await machine.disk("ext4", machine.labels.boot);
    await machine.disk("swap", machine.labels.swap);
  }
  const [hostKey, clientKey] = [join(machine.dir, "host_key"), join(machine.dir, "client_key")];
  for (const key of [hostKey, clientKey]) await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "flk-test", "-f", key]);
  const link = await createLink();
  cleanups.push(() => link.cleanup());
  // The client side needs its own link-local address before it can reach fe80::…%iface.
  await linkLocal(link.b);
  // sshd's SetEnv puts the stand-in first on the session PATH, as nixos-install is on the live ISO's.
  const sshd = await startSshd(link.a, {
    hostKey,
    authorizedKeys: readFileSync(`${clientKey}.pub`, "utf8"),
    extraConfig: [`SetEnv PATH=${machine.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`],
  });
  cleanups.push(() => sshd.stop());
  const knownHosts = join(machine.dir, "known_hosts");
  await Bun.write(knownHosts, `flk-test-live ${readFileSync(`${hostKey}.pub`, "utf8")}`);
  const endpoint: Endpoint = { address: sshd.address, scope: link.b.iface, family: 6, source: "test-locator" };
  const plugin = definePlugin({
    name: "test-locator",
    description: "test only: answers locate for NixOS with the namespace's sshd, adds key and pinned host key options",
    options: {},
    apply(flk) {
      flk.hooks.locate.tapPromise("test-locator", async (query) => {
        query.tried.push(`test-locator asked for ${query.host}`);
        return query.host === "NixOS" ? endpoint : undefined;
      });
      flk.hooks.sshOptions.tapPromise("test-locator", async (options) => [
        ...options, "-F", "/dev/null", "-i", clientKey, "-o", "IdentitiesOnly=yes",
        "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=flk-test-live",
      ]);
    },
  });
  const ssh = ["ip", "netns", "exec", link.b.name, "ssh"];
  const sshArgs = ["-F", "/dev/null", "-i", clientKey, "-o", "IdentitiesOnly=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "HostKeyAlias=flk-test-live", "-o", "BatchMode=yes"];
  const remote = async (command: string) => (await sh([...ssh, ...sshArgs, `root@${sshd.address}%${link.b.iface}`, command])).stdout;
  return { machine, link, sshd, plugin, ssh, remote };
}

/** Collect what is written to our stderr while `fn` runs (the streamed remote output). */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ value: T; text: string }> {
  const write = process.stderr.write.bind(process.stderr);
  let text = "";
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    return { value: await fn(), text };
  } finally {
    process.stderr.write = write;
  }
}

describe("flk install --target over ssh to a real sshd in a network namespace", () => {
  test("finds the live installer through locate, runs preflight and plan over ssh with the stand-in nixos-install, streams its output, then --undo unmounts", async () => {
    const live = await startLive();
    const m = live.machine;
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    const { value: report, text } = await captureStderr(() => install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh }));
    expect(report.target).toBe(`root@${live.sshd.address}%${live.link.b.iface}`);
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["mkdir-root", "ran"], ["mount-root", "ran"], ["mkdir-boot", "ran"], ["mount-boot", "ran"], ["swapon", "ran"], ["nixos-install", "ran"],
    ]);
    expect(m.calls().map((c) => [c.cwd, c.argv])).toEqual([[m.site, ["--flake", `${m.site}#NixOS`, "--root", m.root]]]);
    expect(text).toContain(`stand-in nixos-install: --flake ${m.site}#NixOS`);
    expect(live.sshd.log()).toContain("Accepted publickey for root");
    // What the stand-in saw mounted while it ran on the live side.
    const [rootDev, bootDev] = m.devices;
    expect(m.calls()[0]!.mounts.sort()).toEqual([`${m.root} ${rootDev}`, `${m.root}/boot ${bootDev}`].sort());
    const mountedThere = async () => (await live.remote(`findmnt -rn -o TARGET | grep -F '${m.dir}' || true`)).split("\n").filter(Boolean).sort();
    expect(await mountedThere()).toEqual([m.root, `${m.root}/boot`]);
    expect(await m.swapping()).toEqual([m.devices[2]!]);

    const again = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh });
    expect(again.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["nixos-install"]);

    const undo = await install(flk, { undo: true, target: "root@NixOS", ssh: live.ssh });
    expect(undo.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "mount-boot", "swapon"]);
    expect(await mountedThere()).toEqual([]);
    expect(await m.swapping()).toEqual([]);
  }, 60_000);

  test("an unknown target name is refused (exit 2) before any locator runs; an unreachable one is exit 1 naming what was tried", async () => {
    const live = await startLive();
    const m = live.machine;
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    // A name that is not a host of the site is refused before any locator runs (core reach → resolveHost).
    const unknown = await install(flk, { host: "NixOS", target: "root@Ghost", ssh: live.ssh }).catch((e) => e);
    expect([unknown.exitCode, unknown.code]).toEqual([2, "E_UNKNOWN_HOST"]);
    expect(unknown.message).not.toContain("test-locator asked");
    await live.sshd.stop();
    const gone = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh }).catch((e) => e);
    expect([gone.exitCode, gone.code]).toEqual([1, "E_UNREACHABLE"]);
    expect(gone.message).toContain(`ssh root@${live.sshd.address}%${live.link.b.iface} (found by test-locator)`);
    expect(gone.message).toContain("test-locator asked for NixOS");
    expect(await m.mounted()).toEqual([]);
    expect(m.calls()).toEqual([]);
  }, 60_000);
});


describe("flk install --target --disk: the disk step runs on the live side, in the one script", () => {
  test("partitions, formats, mounts, captures the hardware configuration back through ssh into the operator's site, copies --extra-files, installs (stand-ins); --undo over ssh leaves nothing mounted", async () => {
    const live = await startLive({ labelled: false });
    const m = live.machine;
    const device = await bareDisk(m, 400, (c) => cleanups.push(c));
    const extra = join(m.dir, "extra");
    mkdirSync(join(extra, "var", "lib", "sops"), { recursive: true });
    writeFileSync(join(extra, "var", "lib", "sops", "key.txt"), "AGE-SECRET\n", { mode: 0o400 });
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    const report = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios", swap: "32M" }, hardwareConfig: true, extraFiles: extra });
    expect(report.steps.filter((s) => s.status !== "ran").map((s) => s.id)).toEqual([]);
    expect(report.disk!.device).toBe(device);
    const table = JSON.parse((await sh(["sfdisk", "--json", device])).stdout).partitiontable;
    expect(table.partitions.map((p: { node: string; type: string }) => [p.node, p.type])).toEqual([[`${device}p1`, "83"], [`${device}p2`, "82"]]);
    expect(m.calls()[0]!.mounts).toEqual([`${m.root} ${device}p1`]);
    const mountedThere = async () => (await live.remote(`findmnt -rn -o TARGET | grep -F '${m.dir}' || true`)).split("\n").filter(Boolean);
    expect(await mountedThere()).toEqual([m.root]);
    expect((await live.remote(`stat -c '%a %s' '${m.root}/var/lib/sops/key.txt'`)).trim()).toBe("400 11");
    expect(readFileSync(join(m.site, "hosts", "NixOS", "hardware-configuration.nix"), "utf8")).toContain(`root ${m.root}`);
    expect(report.hardwareConfig!.file).toBe(join(m.site, "hosts", "NixOS", "hardware-configuration.nix"));
    const undo = await install(flk, { undo: true, target: "root@NixOS", ssh: live.ssh });
    expect(undo.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "swapon"]);
    expect(await mountedThere()).toEqual([]);
  }, 120_000);

  test("refusals on the live side leave the disk's sha256 unchanged (exit 2): no --yes without a terminal (naming the remote disk with its size), a mounted disk, a label already on another disk there", async () => {
    const live = await startLive({ labelled: false });
    const m = live.machine;
    const device = await bareDisk(m, 400, (c) => cleanups.push(c));
    const before = (await sh(["sha256sum", device])).stdout;
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    (flk.flags as { yes: boolean }).yes = false;
    const ask = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios" }, interactive: false }).catch((e) => e);
    expect([ask.exitCode, ask.code]).toEqual([2, "E_CONFIRM"]);
    expect(ask.message).toContain(`${device} on root@${live.sshd.address}%${live.link.b.iface} (unknown model, 400.0 MiB)`);
    (flk.flags as { yes: boolean }).yes = true;
    await m.disk("ext4", m.labels.root);
    const twice = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios" } }).catch((e) => e);
    expect([twice.exitCode, twice.code]).toEqual([2, "E_LABEL_DUPLICATE"]);
    // Mounted on the live side only (its own mount namespace): the judge sees it through the probe.
    await live.remote(`mkdir -p '${m.dir}/busy' && mount -o ro '${m.devices[0]}' '${m.dir}/busy'`);
    const other = m.devices[0]!;
    const busy = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device: other, boot: "bios" } }).catch((e) => e);
    expect([busy.exitCode, busy.code]).toEqual([2, "E_DISK_REFUSED"]);
    expect(busy.message).toContain(`mounted on ${m.dir}/busy`);
    expect((await sh(["sha256sum", device])).stdout).toBe(before);
    expect(m.calls()).toEqual([]);
  }, 120_000);

  test("--disk names the remote disk by path and device number: a bare name is refused with 'did you mean /dev/NAME?'; a node made with mknod elsewhere is judged (and written) as the disk its number names, /dev/NAME", async () => {
    const live = await startLive({ labelled: false });
    const m = live.machine;
    const device = await bareDisk(m, 400, (c) => cleanups.push(c));
    const otherImage = join(m.dir, "other.img");
    writeFileSync(otherImage, "");
    await sh(["truncate", "-s", "300M", otherImage]);
    const other = (await sh(["losetup", "-f", "--show", otherImage])).stdout.trim();
    cleanups.push(async () => void (await sh(["losetup", "-d", other])));
    await sh(["dd", "if=/dev/urandom", `of=${other}`, "bs=1M", "count=1", "conv=fsync", "status=none"]);
    const sums = async () => [(await sh(["sha256sum", device])).stdout, (await sh(["sha256sum", other])).stdout];
    const before = await sums();
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    const name = device.replace("/dev/", "");
    const bare = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device: name, boot: "bios" } }).catch((e) => e);
    expect([bare.exitCode, bare.code]).toEqual([2, "E_USAGE"]);
    expect(bare.message).toContain(`--disk '${name}' is not a path. Did you mean ${device}?`);
    expect((await live.remote(`ls -d "$HOME/${name}" 2>/dev/null || echo none`)).trim()).toBe("none");
    // A node named like the free 300 MiB disk, made with the number of a disk mounted on the live side (only there).
    const nodes = join(m.dir, "nodes");
    mkdirSync(nodes);
    const mountedImage = join(m.dir, "mounted.img");
    writeFileSync(mountedImage, "");
    await sh(["truncate", "-s", "300M", mountedImage]);
    const mounted = (await sh(["losetup", "-f", "--show", mountedImage])).stdout.trim();
    cleanups.push(async () => void (await sh(["losetup", "-d", mounted])));
    await sh(["mkfs.ext4", "-q", "-F", mounted]);
    await live.remote(`mkdir -p '${m.dir}/busy' && mount -o ro '${mounted}' '${m.dir}/busy'`);
    cleanups.push(async () => void (await live.remote(`umount '${m.dir}/busy'`)));
    const mountedBefore = (await sh(["sha256sum", mounted])).stdout;
    const numbers = async (dev: string) => (await sh(["stat", "-c", "%t %T", dev])).stdout.trim().split(" ").map((h) => String(parseInt(h, 16)));
    const decoy = join(nodes, other.replace("/dev/", ""));
    await sh(["mknod", decoy, "b", ...(await numbers(mounted))]);
    const busy = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device: decoy, boot: "bios" } }).catch((e) => e);
    expect([busy.exitCode, busy.code]).toEqual([2, "E_DISK_REFUSED"]);
    expect(busy.message).toContain(`refusing to partition ${mounted} (--disk ${decoy}) on root@`);
    expect(busy.message).toContain(`mounted on ${m.dir}/busy`);
    expect((await sh(["sha256sum", mounted])).stdout).toBe(mountedBefore);
    expect(await sums()).toEqual(before);
    expect(m.calls()).toEqual([]);
    // The same kind of node, now with the free 400 MiB disk's number: judged as that disk, and sfdisk and mkfs write /dev/NAME.
    const alias = join(nodes, "alias");
    await sh(["mknod", alias, "b", ...(await numbers(device))]);
    const report = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device: alias, boot: "bios" } });
    expect(report.disk!.device).toBe(device);
    expect(report.disk!.size).toBe(400 * 1024 * 1024);
    const partition = report.steps.find((s) => s.id === "partition")!;
    expect(partition.argv.at(-1)).toBe(device);
    expect(report.steps[0]!.id).toBe("disk-identity");
    const table = JSON.parse((await sh(["sfdisk", "--json", device])).stdout).partitiontable;
    expect(table.partitions.map((p: { node: string }) => p.node)).toEqual([`${device}p1`]);
    expect((await sh(["sha256sum", other])).stdout).toBe(before[1]!);
    await install(flk, { undo: true, target: "root@NixOS", ssh: live.ssh });
  }, 180_000);
});


describe("flk install --target after the site was edited: the stick's version is not installed silently", () => {
  test("operator's site narHash ≠ the stick's: exit 2 E_SITE_CHANGED (also --dry-run and --rebuild), nothing mounted or run and the site unchanged; --from-stick installs the stick's recorded system", async () => {
    const live = await startLive();
    const m = live.machine;
    // The stick's flake copy (as flk iso puts it at liveFlake) and its record, as test/system/installer-offline.test.ts makes them.
    const copy = join(m.dir, "stick-copy");
    await sh(["cp", "-a", m.site, copy]);
    const saved = process.env.NIX_CONFIG;
    process.env.NIX_CONFIG = "substituters =";
    cleanups.push(async () => void (saved === undefined ? delete process.env.NIX_CONFIG : (process.env.NIX_CONFIG = saved)));
    const narHash = (await sh(["nix", "--extra-experimental-features", "nix-command", "hash", "path", copy])).stdout.trim();
    writeFileSync(join(m.dir, "toplevel-stand-in"), "stand-in toplevel (flk test)\n");
    const toplevel = (await sh(["nix-store", "--add", join(m.dir, "toplevel-stand-in")])).stdout.trim();
    const record = join(m.dir, "live.json");
    writeFileSync(record, JSON.stringify({ version: 1, host: "NixOS", toplevel, flake: copy, narHash, diskoScript: null }));
    const flk = machineFlk(m, [live.plugin], { liveFlake: copy });
    const run = (extra: object = {}) => install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, paths: { liveRecord: record }, ...extra });
    // The site as the stick was built from it: --system, no question.
    expect((await run({ dryRun: true })).source).toMatchObject({ kind: "system", toplevel });
    writeFileSync(join(m.site, "hosts", "NixOS.nix"), "{ networking.hostName = \"edited\"; }\n");
    const before = snapshot(m.site);
    const siteHash = (await sh(["nix", "--extra-experimental-features", "nix-command", "hash", "path", m.site])).stdout.trim();
    for (const extra of [{ dryRun: true }, {}, { rebuild: true }]) {
      const e = await refusal(() => run(extra));
      expect([e.exitCode, e.code]).toEqual([2, "E_SITE_CHANGED"]);
      expect(e.message).toContain(`your site ${m.site} has changed since the stick was built: its narHash is ${siteHash}, the stick's is ${narHash}`);
      expect(e.message).toContain("`flk iso NixOS && flk write`");
      expect(e.message).toContain("--from-stick");
    }
    expect(snapshot(m.site)).toEqual(before);
    expect(await m.mounted()).toEqual([]);
    expect(m.calls()).toEqual([]);
    const report = await run({ fromStick: true });
    expect(report.source).toMatchObject({ kind: "system", toplevel });
    expect(m.calls().map((c) => c.argv)).toEqual([["--system", toplevel, "--root", m.root]]);
    await install(flk, { undo: true, target: "root@NixOS", ssh: live.ssh });
  }, 120_000);
});

/**
 * dist/flk as the operator types it, run in the client namespace: only the installer (a literal
 * address needs no locator); ssh-keys' pinning is replaced by a wrapper named ssh, first on PATH,
 * that adds this test's key and the test sshd's pinned host key.
 */
function compiledFlk(live: Live, liveFlake: string): { target(user: string): string; spawn(args: string[]): Bun.Subprocess<"ignore", "pipe", "pipe"> } {
  const m = live.machine;
  writeFileSync(join(m.site, "flk.toml"), `plugins = ["installer"]\n\n[installer]\nroot = "${m.root}"\nliveFlake = "${liveFlake}"\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`, { mode: 0o644 });
  const wrap = join(m.dir, "ssh-wrapper");
  mkdirSync(wrap, { recursive: true });
  writeFileSync(join(wrap, "ssh"), `#!/bin/sh\n# test wrapper: the options ssh-keys would add (key, pinned host key), then the real ssh\nexec ${Bun.which("ssh")} -F /dev/null -i '${m.dir}/client_key' -o IdentitiesOnly=yes -o 'UserKnownHostsFile=${m.dir}/known_hosts' -o HostKeyAlias=flk-test-live -o StrictHostKeyChecking=yes "$@"\n`);
  chmodSync(join(wrap, "ssh"), 0o755);
  return {
    target: (user) => `${user}@${live.sshd.address}%${live.link.b.iface}`,
    spawn: (args) => Bun.spawn(["ip", "netns", "exec", live.link.b.name, FLK, ...args], {
      cwd: m.site,
      env: { ...process.env, NO_COLOR: "1", NIX_CONFIG: "substituters =", PATH: `${wrap}:${process.env.PATH}:/usr/sbin:/sbin` },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    }),
  };
}

async function finished(child: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe("compiled flk install NixOS --target … after the site was edited, with and without --from-stick", () => {
  test("dist/flk over the real sshd: the stick's record at /etc/flk/live.json on the live side; edited site → exit 2 E_SITE_CHANGED, site unchanged, nothing mounted or run; --from-stick → nixos-install --system of the record, with the warning", async () => {
    const live = await startLive();
    const m = live.machine;
    const copy = join(m.dir, "stick-copy");
    const flk = compiledFlk(live, copy);
    const target = flk.target("root");
    // The stick's flake copy (as flk iso puts it at liveFlake) and its record, as test/system/installer-offline.test.ts makes them.
    await sh(["cp", "-a", m.site, copy]);
    const narHash = (await sh(["nix", "--extra-experimental-features", "nix-command", "hash", "path", copy])).stdout.trim();
    writeFileSync(join(m.dir, "toplevel-stand-in"), "stand-in toplevel (flk test)\n");
    const toplevel = (await sh(["nix-store", "--add", join(m.dir, "toplevel-stand-in")])).stdout.trim();
    // The record where the live side's probe reads it, /etc/flk/live.json, seen only in sshd's own
    // mount namespace (ip netns exec gives it one): an overlay on /etc there, gone with sshd.
    mkdirSync(join(m.dir, "etc-upper", "flk"), { recursive: true });
    mkdirSync(join(m.dir, "etc-work"));
    writeFileSync(join(m.dir, "etc-upper", "flk", "live.json"), JSON.stringify({ version: 1, host: "NixOS", toplevel, flake: copy, narHash, diskoScript: null }));
    await live.remote(`mount -t overlay flk-test-etc -o lowerdir=/etc,upperdir=${m.dir}/etc-upper,workdir=${m.dir}/etc-work /etc`);
    expect(JSON.parse(await live.remote("cat /etc/flk/live.json")).toplevel).toBe(toplevel);
    expect(await Bun.file("/etc/flk/live.json").exists()).toBe(false);
    // The site as the stick was built from it: --system, no question.
    const same = await finished(flk.spawn(["install", "NixOS", "--target", target, "--dry-run"]));
    expect(same.code).toBe(0);
    expect(same.stdout).toContain(`nixos-install --system ${toplevel}`);
    writeFileSync(join(m.site, "hosts", "NixOS.nix"), "{ networking.hostName = \"edited\"; }\n");
    const before = snapshot(m.site);
    const siteHash = (await sh(["nix", "--extra-experimental-features", "nix-command", "hash", "path", m.site])).stdout.trim();
    const refused = await finished(flk.spawn(["install", "NixOS", "--target", target]));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`your site ${m.site} has changed since the stick was built: its narHash is ${siteHash}, the stick's is ${narHash}`);
    expect(refused.stderr).toContain("add --from-stick to install the stick's version anyway");
    const json = await finished(flk.spawn(["install", "NixOS", "--target", target, "--json"]));
    expect([json.code, JSON.parse(json.stdout).error?.code]).toEqual([2, "E_SITE_CHANGED"]);
    expect(snapshot(m.site)).toEqual(before);
    expect(await live.remote(`findmnt -rn -o TARGET | grep -cF '${m.dir}' || true`)).toBe("0\n");
    expect(m.calls()).toEqual([]);
    const forced = await finished(flk.spawn(["install", "NixOS", "--target", target, "--from-stick"]));
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain(`--from-stick: your site ${m.site} (narHash ${siteHash}) differs from the stick's; installing the system the stick carries (built from narHash ${narHash}), not your edits.`);
    expect(forced.stderr).toContain(`installed ${toplevel} (the system the stick carries) on ${target}`);
    expect(m.calls().map((c) => c.argv)).toEqual([["--system", toplevel, "--root", m.root]]);
    expect(snapshot(m.site)).toEqual(before);
    expect((await finished(flk.spawn(["install", "--undo", "--target", target]))).code).toBe(0);
  }, 120_000);
});

describe("flk install --target --hardware-config for a host that uses nixos-facter", () => {
  test("the operator's site says hardware.facter.reportPath = ./NixOS/facter.json: the stand-in nixos-facter runs as root in the ssh session, its report comes back through it and lands at reportPath, git-added", async () => {
    const live = await startLive();
    const m = live.machine;
    await useFixtureSite(m, (site) => {
      const file = join(site, "hosts", "NixOS.nix");
      writeFileSync(file, readFileSync(file, "utf8").replace("services.openssh.enable = true;", "services.openssh.enable = true;\n  hardware.facter.reportPath = ./NixOS/facter.json;"));
    });
    const facterCalls = writeFacterStandIn(m);
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    const saved = process.env.NIX_CONFIG;
    process.env.NIX_CONFIG = "substituters =";
    try {
      const report = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, hardwareConfig: true, gitAdd: true });
      expect(report.steps.map((s) => [s.id, s.status])).toEqual([
        ["mkdir-root", "ran"], ["mount-root", "ran"], ["mkdir-boot", "ran"], ["mount-boot", "ran"], ["swapon", "ran"], ["facter-report", "ran"], ["nixos-install", "ran"],
      ]);
      expect(facterCalls()).toEqual(["0 "]);
      // It ran on the far side of the ssh session: sshd listens on the namespace's link-local address.
      // $SSH_CONNECTION: client address and port, then the server's (sshd on the namespace's link-local address).
      expect(readFileSync(join(m.dir, "facter.calls.ssh"), "utf8").trim().split(" ").slice(2)).toEqual([`${live.sshd.address}%${live.link.a.iface}`, String(live.sshd.port)]);
      const file = join(m.site, "hosts", "NixOS", "facter.json");
      expect(readFileSync(file, "utf8")).toBe(FACTER_REPORT);
      expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(1);
      expect(report.hardwareConfig).toEqual({ backend: "nixos-facter", file, bytes: FACTER_REPORT.length, imported: true, gitAdded: true, warnings: [] });
      expect((await sh(["git", "-C", m.site, "status", "--porcelain"])).stdout).toBe("A  hosts/NixOS/facter.json\n");
    } finally {
      if (saved === undefined) delete process.env.NIX_CONFIG;
      else process.env.NIX_CONFIG = saved;
    }
  }, 120_000);
});

/** A live (non-zombie) process with this pid (proc(5): the state after the comm). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("an interrupted flk install --target stops the remote run too", () => {
  test("abort (what SIGINT does) while the slow stand-in nixos-install sleeps on the live side: the local ssh goes, and the remote stand-in and its shell are gone within 5 s (the remote script watches its ssh session's stdin)", async () => {
    const live = await startLive();
    const m = live.machine;
    // The slow stand-in on the live side (sshd's PATH has m.bin first): records its pid and that of the script's shell, then waits.
    writeFileSync(join(m.bin, "nixos-install"), `#!/bin/sh\necho "$$ $PPID" > '${m.dir}/standin.pids'\nexec sleep 120\n`);
    chmodSync(join(m.bin, "nixos-install"), 0o755);
    const flk = machineFlk(m, [live.plugin], { liveFlake: m.site });
    const pidFile = join(m.dir, "standin.pids");
    let pids: number[] = [];
    try {
      const running = install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh }).catch((e) => e);
      for (let i = 0; i < 800 && !(await Bun.file(pidFile).exists()); i++) await Bun.sleep(25);
      pids = (await Bun.file(pidFile).text()).trim().split(" ").map(Number);
      expect(pids.every(alive)).toBe(true);
      flk.abort("interrupted by SIGINT");
      await running;
      const t0 = Date.now();
      while (pids.some(alive) && Date.now() - t0 < 5000) await Bun.sleep(50);
      expect(pids.filter(alive)).toEqual([]);
      // The mounts stay (undo is the operator's choice), and --undo over ssh still works.
      const undo = await install(machineFlk(m, [live.plugin], { liveFlake: m.site }), { undo: true, target: "root@NixOS", ssh: live.ssh });
      expect(undo.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "mount-boot", "swapon"]);
    } finally {
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 60_000);
});

describe("SIGINT to the compiled flk install --target", () => {
  test("exit 130 while the slow stand-in nixos-install sleeps behind the real sshd; the stand-in and its shell on the live side are gone within 5 s", async () => {
    const live = await startLive();
    const m = live.machine;
    writeFileSync(join(m.bin, "nixos-install"), `#!/bin/sh\necho "$$ $PPID" > '${m.dir}/standin.pids'\nexec sleep 120\n`);
    chmodSync(join(m.bin, "nixos-install"), 0o755);
    // Only the installer: a literal address needs no locator. ssh-keys' pinning is replaced by a wrapper
    // named ssh, first on PATH, that adds this test's key and the test sshd's known host key.
    writeFileSync(join(m.site, "flk.toml"), `plugins = ["installer"]\n\n[installer]\nroot = "${m.root}"\nliveFlake = "${m.site}"\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`, { mode: 0o644 });
    const wrap = join(m.dir, "ssh-wrapper");
    mkdirSync(wrap);
    writeFileSync(join(wrap, "ssh"), `#!/bin/sh\n# test wrapper: the options ssh-keys would add (key, pinned host key), then the real ssh\nexec ${Bun.which("ssh")} -F /dev/null -i '${m.dir}/client_key' -o IdentitiesOnly=yes -o 'UserKnownHostsFile=${m.dir}/known_hosts' -o HostKeyAlias=flk-test-live -o StrictHostKeyChecking=yes "$@"\n`);
    chmodSync(join(wrap, "ssh"), 0o755);
    const target = `root@${live.sshd.address}%${live.link.b.iface}`;
    const child = Bun.spawn(["ip", "netns", "exec", live.link.b.name, FLK, "install", "NixOS", "--target", target], {
      cwd: m.site,
      env: { ...process.env, NO_COLOR: "1", PATH: `${wrap}:${process.env.PATH}:/usr/sbin:/sbin` },
      stdout: "pipe",
      stderr: "pipe",
    });
    const pidFile = join(m.dir, "standin.pids");
    let pids: number[] = [];
    try {
      const stderr = new Response(child.stderr).text();
      for (let i = 0; i < 1200 && !(await Bun.file(pidFile).exists()) && child.exitCode === null; i++) await Bun.sleep(25);
      expect(await Bun.file(pidFile).exists()).toBe(true);
      pids = (await Bun.file(pidFile).text()).trim().split(" ").map(Number);
      expect(pids.every(alive)).toBe(true);
      child.kill("SIGINT");
      expect(await child.exited).toBe(130);
      const t0 = Date.now();
      while (pids.some(alive) && Date.now() - t0 < 5000) await Bun.sleep(50);
      expect(pids.filter(alive)).toEqual([]);
      expect(await stderr).toContain(`interrupted: the plan on ${target} was stopped`);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 60_000);
});

describe("flk install --target --disk: the disk written is the disk judged and confirmed", () => {
  /** A clearly named test plugin: runs `during` at the install plan's installSteps hook, i.e. after the probe and before the confirmation's re-check. */
  function duringPlan(during: { action?: () => Promise<void> }) {
    return definePlugin({
      name: "test-during-plan",
      description: "test only: acts on the live side's disks after the probe (the installer's installSteps hook), as an operator swapping a stick while flk waits",
      options: {},
      apply(flk) {
        installerHooks(flk).installSteps.tapPromise("test-during-plan", async (steps) => {
          await during.action?.();
          during.action = undefined;
          return steps;
        });
      },
    });
  }

  test("the loop device re-attached to another image (same major:minor, new diskseq) or mounted on the live side after the probe: exit 2 (E_TARGET_CHANGED, E_DISK_REFUSED), both images unchanged; the script's disk-identity step refuses a swap made after its plan (diskseq), nothing written", async () => {
    const live = await startLive({ labelled: false });
    const m = live.machine;
    const device = await bareDisk(m, 400, (c) => cleanups.push(c));
    const [first, second] = [join(m.dir, "bare.img"), join(m.dir, "d2.img")];
    writeFileSync(second, "");
    await sh(["truncate", "-s", "400M", second]);
    await sh(["mkfs.ext4", "-q", "-F", second]);
    const sums = async () => [(await sh(["sha256sum", first])).stdout, (await sh(["sha256sum", second])).stdout];
    const before = await sums();
    // The reviewer's swap: `losetup -d /dev/loopN && losetup /dev/loopN d2.img`, as a stick pulled and another plugged into the same port.
    const attach = async (image: string) => {
      await sh(["losetup", "-d", device]);
      const again = await sh(["losetup", device, image]);
      expect(again.code).toBe(0);
    };
    const during: { action?: () => Promise<void> } = {};
    const flk = machineFlk(m, [live.plugin, duringPlan(during)], { liveFlake: m.site });
    const seq = () => readFileSync(`/sys/class/block/${device.replace("/dev/", "")}/diskseq`, "utf8").trim();
    const judgedSeq = seq();
    during.action = () => attach(second);
    const swapped = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios" } }).catch((e) => e);
    expect([swapped.exitCode, swapped.code]).toEqual([2, "E_TARGET_CHANGED"]);
    expect(swapped.message).toContain(`${device} on root@${live.sshd.address}%${live.link.b.iface}: the device changed between the checks and the write (judged ${device} with diskseq ${judgedSeq}, it has diskseq ${seq()} now`);
    expect(await sums()).toEqual(before);
    // Mounted on the live side only (sshd's mount namespace) while the question waited: flk refuses, not sfdisk.
    mkdirSync(join(m.dir, "busy"));
    during.action = async () => void (await live.remote(`mount -o ro,noload '${device}' '${m.dir}/busy'`));
    const busy = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios" } }).catch((e) => e);
    expect([busy.exitCode, busy.code]).toEqual([2, "E_DISK_REFUSED"]);
    expect(busy.message).toContain(`mounted on ${m.dir}/busy`);
    await live.remote(`umount '${m.dir}/busy'`);
    expect(await sums()).toEqual(before);
    // The script's own first step: planned for the disk as it is now (d2.img), run after a swap back to the first image.
    const plan = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: live.ssh, disk: { device, boot: "bios" }, dryRun: true });
    expect(plan.steps[0]!.id).toBe("disk-identity");
    expect(plan.steps[0]!.title).toContain(`diskseq ${seq()}`);
    await attach(first);
    const transport = await remoteTransport(flk, "NixOS", "root@NixOS", { ssh: live.ssh });
    const ran = await transport.run(plan.script, { signal: new AbortController().signal });
    expect(ran.code).not.toBe(0);
    expect(ran.stdout).toContain("@flk fail disk-identity");
    expect(ran.stderrTail.join("\n")).toContain(`flk: ${device} is not the judged disk`);
    expect(ran.stdout).not.toContain("@flk run partition");
    expect(await sums()).toEqual(before);
    // The same through install(): the swap made by a wrapper around ssh (test only) just before the third ssh,
    // the one that carries the script (probe, re-probe after the confirmation, script): exit 2, said as flk write says it.
    const wrapper = join(m.dir, "ssh-swap");
    writeFileSync(wrapper, `#!/bin/sh\n# test wrapper: swap ${device}'s image before the 3rd ssh (the script), then the real ssh in the client namespace\nn=$(($(cat '${m.dir}/ssh-count' 2>/dev/null || echo 0) + 1)); echo $n > '${m.dir}/ssh-count'\nif [ $n -eq 3 ]; then losetup -d ${device} && losetup ${device} '${second}' || exit 99; fi\nexec ${live.ssh.map((a) => `'${a}'`).join(" ")} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const late = await install(flk, { host: "NixOS", target: "root@NixOS", ssh: [wrapper], disk: { device, boot: "bios" } }).catch((e) => e);
    expect(readFileSync(join(m.dir, "ssh-count"), "utf8").trim()).toBe("3");
    expect([late.exitCode, late.code]).toEqual([2, "E_TARGET_CHANGED"]);
    expect(late.message).toContain(`${device} on root@${live.sshd.address}%${live.link.b.iface}: the device changed between the checks and the write (flk: ${device} is not the judged disk`);
    expect(await sums()).toEqual(before);
    expect(m.calls()).toEqual([]);
  }, 180_000);
});

describe("SIGINT to the compiled flk install --target as a user whose plan runs through sudo", () => {
  test("USER@ADDR runs `sudo -n sh -s` (sudoers: NOPASSWD, Debian's use_pty default on): SIGINT to dist/flk while the slow stand-in nixos-install sleeps → exit 130; the stand-in, its shell and sudo on the live side are gone within 5 s", async () => {
    const live = await startLive();
    const m = live.machine;
    // A non-root login with passwordless sudo, as the live ISO's `nixos` (installation-device.nix); a name of its
    // own so that the story test's `nixos` coming and going in a parallel run does not matter. sudo resets PATH
    // to secure_path: a per-user Defaults puts the stand-ins first for this user only.
    const user = "flksudo";
    if ((await sh(["getent", "passwd", user])).code !== 0) {
      await sh(["useradd", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", user]);
      cleanups.push(async () => void (await sh(["userdel", user])));
      await sh(["usermod", "-p", "*", user]);
    }
    const sudoers = `/etc/sudoers.d/flk-gaps-${process.pid}`;
    cleanups.push(async () => rmSync(sudoers, { force: true }));
    writeFileSync(`${sudoers}.tmp`, `Defaults:${user} secure_path="${m.bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n${user} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
    expect((await sh(["visudo", "-cf", `${sudoers}.tmp`])).code).toBe(0);
    renameSync(`${sudoers}.tmp`, sudoers);
    // The slow stand-in records itself, the script's shell and that shell's parent (sudo), then waits.
    writeFileSync(join(m.bin, "nixos-install"), `#!/bin/sh\necho "$$ $PPID $(ps -o ppid= -p $PPID)" > '${m.dir}/standin.pids'\nexec sleep 120\n`);
    chmodSync(join(m.bin, "nixos-install"), 0o755);
    const flk = compiledFlk(live, m.site);
    const target = flk.target(user);
    const child = flk.spawn(["install", "NixOS", "--target", target]);
    const pidFile = join(m.dir, "standin.pids");
    let pids: number[] = [];
    try {
      const output = finished(child);
      for (let i = 0; i < 1200 && !(await Bun.file(pidFile).exists()) && child.exitCode === null; i++) await Bun.sleep(25);
      expect(await Bun.file(pidFile).exists()).toBe(true);
      pids = (await Bun.file(pidFile).text()).trim().split(/\s+/).map(Number);
      expect(pids.every(alive)).toBe(true);
      // Through sudo: the script's shell is root's, its parent is sudo, run by the user's session.
      expect(readFileSync(`/proc/${pids[1]}/status`, "utf8")).toMatch(/^Uid:\s+0\s/m);
      expect(readFileSync(`/proc/${pids[2]}/comm`, "utf8").trim()).toBe("sudo");
      // use_pty makes a pty only when sudo runs in a terminal (sudoers(5)); under ssh -T it has none, so the
      // script's shell has no controlling terminal and is in sudo's process group: the watcher's kill 0 reaches it all.
      const stat = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      expect(stat(pids[1]!)[4]).toBe("0");
      expect(stat(pids[1]!)[2]).toBe(stat(pids[2]!)[2]);
      child.kill("SIGINT");
      const r = await output;
      expect(r.code).toBe(130);
      const t0 = Date.now();
      while (pids.some(alive) && Date.now() - t0 < 5000) await Bun.sleep(50);
      expect(pids.filter(alive)).toEqual([]);
      expect(r.stderr).toContain(`interrupted: the plan on ${target} was stopped`);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 60_000);
});
