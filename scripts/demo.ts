/**
 * `npm run demo`: the whole story with the compiled dist/flk, offline, on
 * this machine — the embedded fixture site as your flake, a loop device as
 * the USB stick, a network namespace as the machine that boots it, a second
 * loop device as its disk (partitioned by `flk disk`, run there with the
 * flk the stick carries). Each step prints the command as you would type
 * it, a one-line explanation, and the command's real output.
 *
 * As root it runs everything and leaves nothing behind (loop devices,
 * mounts, namespaces, daemons, the `nixos` user it made, temp dirs), also
 * on Ctrl-C (exit 130) or SIGTERM (143). A failing step ends the demo with
 * exit 1, naming the step. Without root it runs the steps that need none.
 *
 * The live-installer set-up is test/helpers/live-installer.ts, the one the
 * story test (test/system/story.test.ts) uses too.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, cpSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { Cleanups } from "../test/helpers/cleanups.ts";
import { attachLoop, bootLiveInstaller, readStick, SBIN_PATH, writeNixosInstallStandIn, type LiveInstaller } from "../test/helpers/live-installer.ts";

const REPO = resolve(import.meta.dir, "..");
/** dist/flk, or $FLK_BIN (as the tests allow, to run a build of their own). */
const FLK = process.env.FLK_BIN ?? join(REPO, "dist", "flk");
const FIXTURE_SITE = join(REPO, "test", "fixtures", "site");
const ROOT = process.getuid?.() === 0;
const TTY = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s: string) => (TTY ? `\x1b[1m${s}\x1b[22m` : s);
const dim = (s: string) => (TTY ? `\x1b[2m${s}\x1b[22m` : s);

/** A step that did not do what the demo needs; its message names the step. */
class StepFailed extends Error {}

const cleanups = new Cleanups();
const running = new Set<Bun.Subprocess>();
let interrupted: number | undefined;
let current = "setting up";
let stepNo = 0;
const started = performance.now();

/** Programs the full story runs, and the Debian package of each. */
const NEEDS: Record<string, string> = {
  nix: "nix-bin", xorriso: "xorriso", git: "git", "ssh-keygen": "openssh-client", ssh: "openssh-client", "ssh-agent": "openssh-client",
  "ssh-add": "openssh-client", sshd: "openssh-server", "avahi-daemon": "avahi-daemon", ip: "iproute2", losetup: "mount", partx: "util-linux",
  sfdisk: "fdisk", wipefs: "util-linux", unshare: "util-linux", chroot: "coreutils", "mkfs.ext4": "e2fsprogs", mkswap: "util-linux", blkid: "util-linux",
  findmnt: "util-linux", sudo: "sudo", visudo: "sudo", useradd: "passwd",
};

/** Print a step's header: number, what it shows. */
function step(title: string, why: string): void {
  stepNo += 1;
  current = `step ${stepNo} (${title})`;
  console.log(`\n${bold(`── ${stepNo}. ${title}`)}\n${dim(why)}`);
}

interface RunOptions {
  /** The command as a user types it (default: argv with dist/flk shown as `flk`). */
  show?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Run in this network namespace (the operator's side of the link). */
  netns?: string;
  /** Exit codes that are fine (default [0]). */
  ok?: number[];
  /** Do not print the command (set-up the user would not type). */
  quiet?: boolean;
}

/** Run argv, print `$ command` and stream its real output; fail the step on an unexpected exit. */
async function sh(argv: string[], options: RunOptions = {}): Promise<{ code: number; out: string }> {
  if (interrupted !== undefined) throw new StepFailed("interrupted");
  const shown = options.show ?? argv.map((a) => (a === FLK ? "flk" : /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(" ");
  if (!options.quiet) console.log(`${bold("$")} ${shown}`);
  const full = options.netns ? ["ip", "netns", "exec", options.netns, ...argv] : argv;
  const child = Bun.spawn(full, { cwd: options.cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: SBIN_PATH, ...options.env } });
  running.add(child);
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>, to: NodeJS.WriteStream) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const text = decoder.decode(chunk, { stream: true });
      out += text;
      if (!options.quiet) to.write(text);
    }
  };
  await Promise.all([pump(child.stdout, process.stdout), pump(child.stderr, process.stdout)]);
  const code = await child.exited;
  running.delete(child);
  if (!(options.ok ?? [0]).includes(code)) throw new StepFailed(`${current} failed: \`${shown}\` exited ${code}${options.quiet ? `:\n${out.trim()}` : ""}`);
  return { code, out };
}

/** Releases everything once, then exits with `code`. */
async function finish(code: number): Promise<never> {
  if (cleanups.started) await new Promise(() => {}); // the first finish() exits
  const failed = await cleanups.run();
  if (failed.length) {
    console.error(`clean-up could not release: ${failed.join("; ")}`);
    process.exit(code || 1);
  }
  process.exit(code);
}

function onSignal(signal: "SIGINT" | "SIGTERM", code: number): void {
  process.on(signal, () => {
    if (interrupted !== undefined) return console.error("still cleaning up…");
    interrupted = code;
    console.error(`\n${signal} during ${current}: stopping, and removing everything the demo made…`);
    for (const child of running) child.kill(signal);
    void finish(code);
  });
}

/** The fixture site copied to `dir/site` as a git repo with one commit, as a user's flake would be. */
async function makeSite(dir: string, toml: string): Promise<string> {
  const site = join(dir, "site");
  cpSync(FIXTURE_SITE, site, { recursive: true });
  writeFileSync(join(site, "flk.toml"), toml);
  console.log(`${bold("$")} cp -r test/fixtures/site ${site} && cd ${site}   ${dim(`# ${toml ? "+ flk.toml below, " : ""}git init, git commit`)}`);
  if (toml) console.log(dim(toml.trimEnd().split("\n").map((l) => `    ${l}`).join("\n")));
  const git = ["git", "-c", "user.name=flk demo", "-c", "user.email=demo@flk.invalid"];
  await sh(["git", "init", "-q"], { cwd: site, quiet: true });
  await sh(["git", "add", "-A"], { cwd: site, quiet: true });
  await sh([...git, "commit", "-q", "-m", "site"], { cwd: site, quiet: true });
  return site;
}

/** `flk iso NixOS`; the first build of a host may stop to ask for its new host key to be tracked by git. */
async function buildIso(site: string, env: Record<string, string>): Promise<{ image: string; sha256: string }> {
  let r = await sh([FLK, "iso", "NixOS"], { cwd: site, env, ok: [0, 2] });
  if (r.code === 2) {
    const gitAdd = /Run `(git -C \S+ add [^`]+)`/.exec(r.out)?.[1];
    if (!gitAdd) throw new StepFailed(`${current} failed: flk iso exited 2 without a git add to run`);
    console.log(dim("flk generated the installer's ssh host key; Nix only sees tracked files, so it says what to run:"));
    await sh(["sh", "-c", gitAdd], { show: gitAdd, cwd: site });
    r = await sh([FLK, "iso", "NixOS"], { cwd: site, env });
  }
  const images = readdirSync(join(site, "result", "iso")).filter((f) => f.endsWith(".iso"));
  if (images.length !== 1) throw new StepFailed(`${current} failed: expected one image in result/iso, found ${images.length}`);
  const image = join("result", "iso", images[0]!);
  const sha256 = /--sha256 ([0-9a-f]{64})/.exec(r.out)?.[1] ?? new Bun.CryptoHasher("sha256").update(await Bun.file(join(site, image)).arrayBuffer()).digest("hex");
  return { image, sha256 };
}

async function story(dir: string): Promise<void> {
  const tag = randomBytes(2).toString("hex");
  // Labels unique to this run: blkid sees every filesystem on this machine.
  const labels = { root: `nixos-${tag}`, boot: `boot-${tag}`, swap: `swap-${tag}` };
  const env = { NIX_CONFIG: "substituters =\nsandbox = false", XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };

  step("your site", "The fixture flake (hosts/NixOS.nix, a stand-in of nixpkgs' module system), in git, as your devos repo would be.");
  const site = await makeSite(dir, [
    "# the live installer's disk labels, unique to this run (blkid sees every disk here)",
    "[installer]",
    `labels = { root = "${labels.root}", boot = "${labels.boot}", swap = "${labels.swap}" }`,
    "",
  ].join("\n"));

  step("flk keys add", "Let yourself log in to the live installer: flk validates and fingerprints your public key and stages it for Nix.");
  const agent = join(dir, "agent.sock");
  const agentProcess = Bun.spawn(["ssh-agent", "-D", "-a", agent], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  cleanups.add("ssh-agent", async () => {
    agentProcess.kill();
    await agentProcess.exited;
  });
  const ssh = { ...env, SSH_AUTH_SOCK: agent };
  await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "you@flk-demo", "-f", "../id_ed25519"], { cwd: site });
  for (let i = 0; !existsSync(agent) && i < 100; i++) await Bun.sleep(20);
  await sh(["ssh-add", "-q", "../id_ed25519"], { cwd: site, env: ssh, show: "ssh-add ../id_ed25519   # your ssh-agent (the demo's own) holds it" });
  await sh([FLK, "keys", "add", "../id_ed25519.pub", "--name", "you", "--git-add"], { cwd: site, env });

  step("flk iso NixOS", "Build the live installer ISO of hosts/NixOS.nix with the real nix (offline: NIX_CONFIG='substituters =').");
  const { image, sha256 } = await buildIso(site, env);

  step("flk write", "Flash it to the stick, here a loop device: safety checks, durable writes, read back and verified.");
  const stick = await attachLoop(join(dir, "stick.img"), statSync(join(site, image)).size + (8 << 20), cleanups);
  console.log(dim(`(the stick: ${stick}, a loop device over ../stick.img)`));
  await sh([FLK, "write", image, stick, "--sha256", sha256, "--yes"], { cwd: site, env });

  step("boot the stick", "A network namespace stands in for the machine that boots it: the stick's ISO at /iso and store at /nix/store, NixOS's stub loader at /lib64, sshd with the stick's host key and keys, an mDNS responder, fe80::47.");
  const liveRoot = join(dir, "live");
  const standIn = join(dir, "bin");
  writeNixosInstallStandIn(standIn);
  await readStick(stick, liveRoot);
  // The machine's disk is there when it boots (and so is released after the live system is gone).
  const disk = await attachLoop(join(dir, "disk.img"), 320 << 20, cleanups);
  const live: LiveInstaller = await bootLiveInstaller({ root: liveRoot, standInBin: standIn, cleanups, prefix: "flk-demo" });
  console.log(dim(`booted "${live.hostName}": namespace ${live.live.name}, ${live.live.iface} with 169.254.47.1, fe80::47 and ${live.eui64}; sshd and avahi-daemon up`));
  console.log(dim(`you are in namespace ${live.operator.name}, on the other end of the cable (${live.operator.iface})`));
  const op = { cwd: site, env: ssh, netns: live.operator.name };

  step("flk resolve NixOS.local", "Find the booted installer by mDNS, with nothing of avahi or resolved needed on your side.");
  await sh([FLK, "resolve", "NixOS.local"], op);

  step("flk ssh NixOS", "Log in as nixos: flk finds it (mDNS, fe80::47, EUI-64) and checks the host key pinned in your site.");
  await sh([FLK, "ssh", "NixOS", "--", "echo logged in as $(id -un); ls /iso"], op);

  step("flk disk", "On the live installer, with the flk the stick carries: partition and format the machine's disk (a second loop device) as the NixOS manual does, labelled as flk.toml says.");
  console.log(dim(`(the target disk: ${disk}, a loop device over ../disk.img; --boot bios: an ESP is vfat, which this kernel cannot mount)`));
  await sh([FLK, "ssh", "NixOS", "--", `cd /iso/devos && sudo flk disk ${disk} --boot bios --swap 8M --yes`], op);

  step("flk install NixOS", "Mount by label on the installer, then nixos-install (a stand-in here: nixos-install is not packaged for Debian).");
  await sh([FLK, "install", "NixOS", "--target", "nixos@NixOS"], op);

  step("flk install --undo", "Unmount and swap off what flk install mounted, in reverse order.");
  await sh([FLK, "install", "--undo", "--target", "nixos@NixOS"], op);
}

/** Without root: the parts that need none; a failing one does not stop the others, but fails the demo. */
async function withoutRoot(dir: string): Promise<string[]> {
  console.log(`The whole story needs root: loop devices (losetup), network namespaces (ip netns), mounts, a \`nixos\` user, sshd and avahi-daemon.
Run \`sudo npm run demo\` for it. Here are the parts that need no root:`);
  const env = { NIX_CONFIG: "substituters =", XDG_STATE_HOME: join(dir, "state"), NO_COLOR: "1" };
  const failed: string[] = [];
  const attempt = async (title: string, why: string, fn: () => Promise<unknown>) => {
    step(title, why);
    try {
      await fn();
    } catch (error) {
      if (!(error instanceof StepFailed) || interrupted !== undefined) throw error;
      failed.push(current);
    }
  };
  step("your site", "The fixture flake, in git, as your devos repo would be.");
  const site = await makeSite(dir, "");
  await attempt("flk keys add", "Let yourself log in to the live installer: flk validates and fingerprints your key and stages it for Nix.", async () => {
    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "you@flk-demo", "-f", "../id_ed25519"], { cwd: site });
    await sh([FLK, "keys", "add", "../id_ed25519.pub", "--name", "you", "--git-add"], { cwd: site, env });
  });
  await attempt("flk hosts", "The hosts a live ISO can be built for.", () => sh([FLK, "hosts"], { cwd: site, env }));
  await attempt("flk iso NixOS --print-module", "The NixOS module flk generates for the live ISO (nix evaluates the flake; nothing is written).", () =>
    sh([FLK, "iso", "NixOS", "--print-module"], { cwd: site, env }));
  await attempt("flk iso NixOS --dry-run", "The exact nix command a build runs.", () => sh([FLK, "iso", "NixOS", "--dry-run"], { cwd: site, env }));
  await attempt("flk lla eui64", "The EUI-64 link-local address a live installer with this MAC answers on.", () =>
    sh([FLK, "lla", "eui64", "52:54:00:12:34:56"], { env }));
  return failed;
}

async function main(): Promise<void> {
  onSignal("SIGINT", 130);
  onSignal("SIGTERM", 143);
  if (!existsSync(FLK)) {
    console.error(`${FLK} is missing: run \`npm run build\` first (npm run demo does).`);
    process.exit(1);
  }
  const absent = ROOT ? Object.keys(NEEDS).filter((p) => !Bun.which(p, { PATH: SBIN_PATH })) : [];
  if (absent.length) {
    console.error(`npm run demo needs ${absent.join(", ")}: apt-get install ${[...new Set(absent.map((p) => NEEDS[p]))].join(" ")}`);
    process.exit(1);
  }
  const dir = mkdtempSync(join(tmpdir(), "flk-demo-"));
  cleanups.add(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  // Every temp dir of the demo's helpers and of flk itself lands inside it.
  // (nix's build users must reach it, as they reach /tmp.)
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "tmp"), { mode: 0o1777 });
  chmodSync(join(dir, "tmp"), 0o1777);
  process.env.TMPDIR = join(dir, "tmp");
  console.log(bold(`flk demo: the whole story with ${FLK}, offline, in ${dir}`));
  try {
    if (ROOT) await story(dir);
    else {
      const failed = await withoutRoot(dir);
      if (failed.length) throw new StepFailed(`${failed.join(", ")} failed (output above)`);
    }
  } catch (error) {
    if (interrupted !== undefined) return void (await finish(interrupted));
    console.error(`\n${bold("demo failed")}: ${error instanceof StepFailed ? error.message : `${current}: ${error instanceof Error ? error.message : String(error)}`}`);
    await finish(1);
  }
  if (interrupted !== undefined) return void (await finish(interrupted));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\n${bold(`demo done: ${stepNo} steps in ${seconds} s`)}; removing the loop devices, namespaces, daemons and temp dirs it made.`);
  await finish(0);
}

await main();
