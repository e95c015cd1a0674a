/**
 * `npm run demo` (scripts/demo.ts) as a newcomer runs it, as root: the whole
 * story succeeds in under two minutes, and the machine is left as it was —
 * after a full run, after Ctrl-C (SIGINT) while the target disk is mounted
 * and swapped on, and after a step fails. "As it was": no loop device over
 * the demo's files, no mount of them in any mount namespace, no `flk-demo-`
 * network namespace, no process holding them, no temp dir, no sudoers rule,
 * the `nixos` user only if it was there before.
 */
import { afterEach, expect } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { FLK } from "../helpers/binary.ts";

const it = systemTest(["nix", "xorriso", "git", "ssh-keygen", "ssh", "ssh-agent", "sshd", "avahi-daemon", "ip", "losetup", "partx", "sfdisk", "unshare", "chroot", "mkfs.ext4", "mkswap", "blkid", "findmnt", "sudo", "visudo", "useradd"]);

const DEMO = resolve(import.meta.dir, "..", "..", "scripts", "demo.ts");
const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Demo {
  child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** stdout and stderr so far. */
  output(): string;
  done: Promise<{ code: number; seconds: number }>;
  tmp: string;
  nixosBefore: boolean;
}

/** Start the demo with its own TMPDIR (so what it leaves is ours to find) and extra env; `asUser` runs it as that uid (setpriv). */
function startDemo(env: Record<string, string> = {}, asUser?: number): Demo {
  const tmp = mkdtempSync(join(tmpdir(), "flk-demo-test-"));
  made.push(tmp);
  // Traversable, as /tmp is: nix's build users work in the demo's TMPDIR.
  chmodSync(tmp, 0o755);
  if (asUser !== undefined) chownSync(tmp, asUser, asUser);
  const nixosBefore = readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("nixos:"));
  const started = performance.now();
  const argv = [process.execPath, DEMO];
  const child = Bun.spawn(asUser === undefined ? argv : ["setpriv", `--reuid=${asUser}`, `--regid=${asUser}`, "--clear-groups", ...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, TMPDIR: tmp, FLK_BIN: FLK, NO_COLOR: "1", ...env } });
  let out = "";
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const done = (async () => {
    const code = await child.exited;
    await pumped;
    return { code, seconds: (performance.now() - started) / 1000 };
  })();
  return { child, output: () => out, done, tmp, nixosBefore };
}

/** Everything of the demo's still on the machine: empty when it cleaned up. */
async function leftovers(demo: Demo): Promise<string[]> {
  const found: string[] = [];
  const loops = JSON.parse((await Bun.$`losetup -J -l`.quiet().nothrow()).stdout.toString() || '{"loopdevices":[]}') as { loopdevices: Array<{ name: string; "back-file": string | null }> };
  for (const loop of loops.loopdevices) if (loop["back-file"]?.startsWith(demo.tmp)) found.push(`loop device ${loop.name} over ${loop["back-file"]}`);
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const read = (f: string) => {
      try {
        return readFileSync(`/proc/${pid}/${f}`, "utf8");
      } catch {
        return "";
      }
    };
    if (read("cmdline").includes(demo.tmp)) found.push(`process ${pid}: ${read("cmdline").replaceAll("\0", " ").trim()}`);
    for (const line of read("mountinfo").split("\n")) if (line.includes(demo.tmp)) found.push(`mount seen by pid ${pid}: ${line}`);
  }
  // Partitions added with partx outlive `losetup -d`: none may be left on the loop devices the demo used.
  for (const [, loop] of demo.output().matchAll(/\(the (?:stick|target disk): \/dev\/(loop\d+)/g)) {
    const attached = existsSync(`/sys/block/${loop}/loop/backing_file`);
    const parts = existsSync(`/sys/block/${loop}`) ? readdirSync(`/sys/block/${loop}`).filter((e) => e.startsWith(`${loop}p`)) : [];
    if (!attached && parts.length) found.push(`partitions ${parts.join(", ")} of the detached /dev/${loop}`);
  }
  const netns = (await Bun.$`ip netns list`.quiet().nothrow()).stdout.toString();
  for (const line of netns.split("\n")) if (line.startsWith("flk-demo-")) found.push(`network namespace ${line}`);
  for (const entry of readdirSync(demo.tmp)) found.push(`temp ${join(demo.tmp, entry)}`);
  if (existsSync(`/etc/sudoers.d/flk-live-nixos-${demo.child.pid}`)) found.push("sudoers rule");
  const nixosNow = readFileSync("/etc/passwd", "utf8").split("\n").some((l) => l.startsWith("nixos:"));
  if (nixosNow && !demo.nixosBefore) found.push("user nixos");
  return [...new Set(found)];
}

it("runs the whole story with dist/flk in under two minutes, every step shown, and leaves nothing behind", async () => {
  const demo = startDemo();
  const { code, seconds } = await demo.done;
  const out = demo.output();
  if (code !== 0) throw new Error(`the demo exited ${code}:\n${out.slice(-4000)}`);
  for (const command of ["$ flk keys add", "$ flk iso NixOS", "$ flk write result/iso/", "$ flk resolve NixOS.local", "$ flk ssh NixOS", "$ flk ssh NixOS -- 'cd /iso/devos && sudo flk disk /dev/loop", "$ flk install NixOS --target nixos@NixOS", "$ flk install --undo"])
    expect(out).toContain(command);
  // Real output of each: the fingerprint, the verified write, the mDNS answer, the login, the stand-in said so.
  expect(out).toMatch(/added you +256 SHA256:/);
  expect(out).toContain("flushed and verified");
  expect(out).toContain("fe80::47%");
  expect(out).toContain("logged in as nixos");
  expect(out).toContain("stand-in nixos-install (the real one is not packaged for Debian)");
  // flk disk ran on the live side with the flk the stick carries (its wrapper on the live PATH), with the site's labels.
  expect(out).toMatch(/is ready: \/dev\/loop\d+p1 ext4 'nixos-[0-9a-f]{4}', \/dev\/loop\d+p2 swap 'swap-[0-9a-f]{4}'/);
  expect(out).toMatch(/undone: \d+ steps? reversed/);
  expect(out).toMatch(/demo done: \d+ steps in [\d.]+ s/);
  expect(seconds).toBeLessThan(120);
  expect(await leftovers(demo)).toEqual([]);
}, 180_000);

it("on Ctrl-C while the target is mounted and swapped on: exits 130 and leaves nothing behind", async () => {
  const demo = startDemo();
  const deadline = Date.now() + 120_000;
  // The stand-in nixos-install prints this while the plan's mounts and swap are in place.
  while (!demo.output().includes("stand-in nixos-install: mounted under") && demo.child.exitCode === null && Date.now() < deadline) await Bun.sleep(10);
  expect(demo.output()).toContain("stand-in nixos-install: mounted under");
  demo.child.kill("SIGINT");
  const { code } = await demo.done;
  expect(demo.output()).toMatch(/SIGINT during step \d+ \(flk install NixOS\)/);
  expect(code).toBe(130);
  expect(await leftovers(demo)).toEqual([]);
}, 180_000);

it("names the step that failed, exits 1 and leaves nothing behind (a nix that fails)", async () => {
  const bin = mkdtempSync(join(tmpdir(), "flk-demo-nix-"));
  made.push(bin);
  writeFileSync(join(bin, "nix"), "#!/bin/sh\necho 'error: this nix fails on purpose (flk demo test)' >&2\nexit 1\n");
  chmodSync(join(bin, "nix"), 0o755);
  const demo = startDemo({ PATH: `${bin}:${process.env.PATH}` });
  const { code } = await demo.done;
  const out = demo.output();
  expect(code).toBe(1);
  expect(out).toMatch(/demo failed: step \d+ \(flk iso NixOS\) failed: `flk iso NixOS` exited [12]/);
  expect(out).toContain("this nix fails on purpose");
  expect(await leftovers(demo)).toEqual([]);
}, 120_000);

it("without root: says what the story needs, runs the steps that need none, and leaves nothing behind", async () => {
  const nobody = 65534;
  const demo = startDemo({ HOME: "/nonexistent" }, nobody);
  const { code } = await demo.done;
  const out = demo.output();
  expect(out).toContain("The whole story needs root: loop devices (losetup), network namespaces (ip netns), mounts");
  expect(out).toContain("sudo npm run demo");
  expect(out).toMatch(/added you +256 SHA256:/);
  expect(out).toMatch(/\$ flk hosts\nNixOS +hosts\/NixOS.nix\n/);
  expect(out).toContain("$ flk lla eui64 52:54:00:12:34:56\nfe80::5054:ff:fe12:3456");
  expect(out).not.toContain("losetup -f");
  // nix may not evaluate for an unprivileged user (no nix-daemon here): then the demo names exactly those steps and fails.
  if (code !== 0) {
    expect(out).toContain("Nix said");
    expect(out).toMatch(/demo failed: (step \d+ \(flk iso NixOS --(print-module|dry-run)\)(, )?)+ failed/);
  } else expect(out).toContain("$ flk iso NixOS --print-module");
  expect(await leftovers(demo)).toEqual([]);
}, 60_000);
