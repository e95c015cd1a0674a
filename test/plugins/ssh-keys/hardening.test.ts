/**
 * Key lines as outside bytes (issue 16 item 11) and the first hour of
 * `flk keys` (issue 15 items 3 and 7), through dist/flk: NULs and over-long
 * lines refused, options shown with the risky ones flagged, control
 * characters escaped, a hand-placed certificate not used, stdin read when
 * piped, the next step named when there is no key, `git -C SITE` hints,
 * aligned listings, one "no SSH keys" warning per build.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { flk } from "../../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../../helpers/iso.ts";
import { captureOutput, keygen, makeFlk, makeSite, sh } from "./helpers.ts";

const it = systemTest(["ssh-keygen", "git", "script"], { root: false });

let dir: string;
let site: ReturnType<typeof makeSite>;
let alice: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "flk-keys-hard-"));
  alice = readFileSync(`${keygen(dir, "alice", "ed25519", undefined, "alice@laptop")}.pub`, "utf8").trim();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  site = makeSite();
});
afterEach(() => site.cleanup());

const bare = () => alice.split(" ").slice(0, 2).join(" ");
const storeDir = () => join(site.root, "secrets/keys");
const stored = () => (readdirSync(site.root).includes("secrets") ? readdirSync(storeDir()) : []);

it("refuses a NUL anywhere in a line (comment, options, a # line) and a line over 16 KiB, writing nothing", async () => {
  const inputs: Array<[string, string]> = [
    ["NUL in the comment", `${bare()} alice\0evil\n`],
    ["NUL in the options", `no-pty\0 ${bare()} alice\n`],
    ["NUL in a # line", `# note\0\n${bare()} alice\n`],
    ["a 16 KiB + 1 line", `${bare()} ${"c".repeat(16 * 1024 - bare().length)}\n`],
  ];
  for (const [what, input] of inputs) {
    const ran = await flk(["keys", "add", "-", "--name", "x"], { cwd: site.root, input });
    expect([what, ran.code]).toEqual([what, 2]);
    expect(ran.stderr).toMatch(/NUL byte|over the 16384-byte limit/);
    expect(stored()).toEqual([]);
  }
  // Exactly 16 KiB is fine.
  const ok = await flk(["keys", "add", "-", "--name", "long"], { cwd: site.root, input: `${bare()} ${"c".repeat(16 * 1024 - bare().length - 1)}\n` });
  expect(ok.code).toBe(0);
});

it("a NUL placed in the store by hand: keys list warns, and the ISO is refused", async () => {
  mkdirSync(storeDir(), { recursive: true });
  writeFileSync(join(storeDir(), "bad.pub"), `${bare()} bad\0comment\n`);
  const listed = await flk(["keys", "list", "--json"], { cwd: site.root });
  expect(JSON.parse(listed.stdout)).toEqual([]);
  expect(listed.stderr).toContain("secrets/keys/bad.pub:1: the line holds a NUL byte");
  const flkInstance = makeFlk(site.root, { pinHostKey: false });
  const { error } = await captureOutput(() => flkInstance.hooks.isoModule.promise({ imports: [], settings: {}, files: [], notes: [] }, { host: "NixOS", siteRoot: site.root }));
  expect((error as Error).message).toContain("secrets/keys/bad.pub:1: the line holds a NUL byte");
});

it("keys list shows each key's options and flags the risky ones (text and --json); an option sshd does not know is refused", async () => {
  const lines = [`command="/bin/echo hi",no-pty ${bare()} forced`, `cert-authority,principals="ops" ${readFileSync(`${keygen(dir, "ca", "ed25519")}.pub`, "utf8").trim()}`];
  for (const [i, line] of lines.entries()) expect((await flk(["keys", "add", "-", "--name", `k${i}`], { cwd: site.root, input: line + "\n" })).code).toBe(0);
  const text = await flk(["keys", "list"], { cwd: site.root });
  expect(text.stdout).toContain('    options: command="/bin/echo hi",no-pty');
  expect(text.stdout).toContain("    ! command: runs this command at every login with the key");
  expect(text.stdout).toContain('    options: cert-authority,principals="ops"');
  expect(text.stdout).toContain("    ! cert-authority: trusts every certificate this key signs, not one key");
  const json = JSON.parse((await flk(["keys", "list", "--json"], { cwd: site.root })).stdout);
  expect(json.map((k: any) => [k.name, k.options, k.risky.map((r: string) => r.split(":")[0])])).toEqual([
    ["k0", ['command="/bin/echo hi"', "no-pty"], ["command"]],
    ["k1", ["cert-authority", 'principals="ops"'], ["cert-authority"]],
  ]);
  const unknown = await flk(["keys", "add", "-", "--name", "u"], { cwd: site.root, input: `no-such-option ${bare()} u\n` });
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("unknown option 'no-such-option' before the key: sshd would skip this key");
});

it("control characters and tabs in comments are escaped when printed, and the listing is aligned", async () => {
  const bob = readFileSync(`${keygen(dir, "bob", "ecdsa", 384, "bob")}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  mkdirSync(storeDir(), { recursive: true });
  writeFileSync(join(storeDir(), "a.pub"), `${bare()} red\x1b[31m\tbell\x07 \u202eevil\n`);
  writeFileSync(join(storeDir(), "bob-the-builder.pub"), `${bob} bob\n`);
  const ran = await flk(["keys", "list"], { cwd: site.root });
  expect(ran.code).toBe(0);
  expect(ran.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\u202e]/);
  expect(ran.stdout).toContain("red\\x1b[31m\\tbell\\x07 \\u{202e}evil (ED25519)");
  const rows = ran.stdout.split("\n").filter(Boolean);
  expect(rows).toHaveLength(2);
  // Every column starts at the same offset in each row (names of 1 and 15 characters).
  expect(new Set(rows.map((r) => r.search(/\d+ SHA256:/))).size).toBe(1);
  expect(new Set(rows.map((r) => r.indexOf("secrets/keys/"))).size).toBe(1);
});

it("a certificate placed in the store by hand is not silently used: keys list warns and omits it, the ISO is refused", async () => {
  const ca = keygen(dir, "ca2", "ed25519");
  const user = keygen(dir, "certified", "ed25519");
  sh(["ssh-keygen", "-q", "-s", ca, "-I", "id", "-n", "nixos", `${user}.pub`]);
  mkdirSync(storeDir(), { recursive: true });
  writeFileSync(join(storeDir(), "cert.pub"), readFileSync(`${user}-cert.pub`));
  const listed = await flk(["keys", "list", "--json"], { cwd: site.root });
  expect(JSON.parse(listed.stdout)).toEqual([]);
  expect(listed.stderr).toContain("secrets/keys/cert.pub:1: an OpenSSH certificate (ED25519-CERT), not a public key");
  const { error } = await captureOutput(() => makeFlk(site.root, { pinHostKey: false }).hooks.isoModule.promise({ imports: [], settings: {}, files: [], notes: [] }, { host: "NixOS", siteRoot: site.root }));
  expect((error as Error).message).toContain("an OpenSSH certificate");
});

it("keys add without FILE reads a pipe (ssh-add -L | flk keys add); on a terminal it names ssh-keygen and ssh-add -L instead of waiting", async () => {
  const piped = await flk(["keys", "add"], { cwd: site.root, input: alice + "\n" });
  expect(piped.code).toBe(0);
  expect(piped.stdout).toContain("added alice@laptop");
  // script(1) gives flk a real terminal on stdin.
  const tty = Bun.spawnSync(["script", "-qec", `${process.env.FLK_BIN ?? join(import.meta.dir, "../../../dist/flk")} keys add`, "/dev/null"], { cwd: site.root, env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore" });
  const out = tty.stdout.toString();
  expect(tty.exitCode).toBe(2);
  expect(out).toContain("ssh-keygen -t ed25519");
  expect(out).toContain("ssh-add -L | flk keys add -");
  const empty = await flk(["keys", "add", "-"], { cwd: site.root, input: "# nothing here\n" });
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain("ssh-add -L | flk keys add -");
});

it("the git add hint is right from any working directory (git -C SITE add …), and plain git add inside the site", async () => {
  const elsewhere = mkdtempSync(join(dir, "cwd-"));
  const key = `${keygen(dir, "carol", "ed25519", undefined, "carol")}.pub`;
  const ran = await flk(["--site", site.root, "keys", "add", key], { cwd: elsewhere });
  expect(ran.code).toBe(0);
  expect(ran.stderr).toContain(`git -C ${site.root} add -- secrets/keys/carol.pub`);
  const inside = await flk(["keys", "rm", "carol"], { cwd: site.root });
  expect(inside.stderr).toContain("`git rm --cached --quiet --ignore-unmatch -- secrets/keys/carol.pub`");
});

it("the 'no SSH keys' warning appears once for a build of several hosts", async () => {
  const fixture = await copyFixtureSite({ toml: 'plugins = ["nix-iso", "ssh-keys"]\n' });
  try {
    const ran = await flk(["iso", "--all", "--print-module"], { cwd: fixture, env: fixtureNixEnv() });
    expect(ran.code).toBe(0);
    expect(ran.stderr.split("nobody will be able to log in").length - 1).toBe(1);
  } finally {
    rmSync(fixture, { recursive: true, force: true });
  }
}, 120_000);
