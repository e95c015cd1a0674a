/**
 * Nothing under secrets/ may be a symlink (issue 16 item 3): each attack,
 * reproduced against dist/flk, is refused with exit 2 naming the link, and
 * nothing changed — the link's target (sha256), the site's files and git's
 * status and index.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { flk } from "../../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../../helpers/iso.ts";
import { captureOutput, keygen, makeFlk, makeSite, makeState, sh } from "./helpers.ts";
import { openSiteDir } from "../../../plugins/ssh-keys/safe.ts";
import { snapshot } from "../../helpers/refusal.ts";

const it = systemTest(["ssh-keygen", "git", "nix"], { root: false });

let dir: string;
let outside: string;
let site: ReturnType<typeof makeSite>;
let state: ReturnType<typeof makeState>;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "flk-links-"));
  outside = join(dir, "home-ssh");
  mkdirSync(outside);
  site = makeSite();
  state = makeState();
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  site.cleanup();
  state.cleanup();
});

function commit(root: string): void {
  sh(["git", "-C", root, "init", "-q"]);
  sh(["git", "-C", root, "add", "-A"]);
  sh(["git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-q", "-m", "site"]);
}

/** Site files, the outside dir, git status and git's index: all that must not change. */
function world(root: string) {
  return {
    site: snapshot(root, { skip: [".git"] }),
    outside: snapshot(outside),
    status: sh(["git", "-C", root, "status", "--porcelain", "--untracked-files=all"]),
    index: sh(["git", "-C", root, "ls-files", "-s"]),
  };
}

it("a committed secrets/keys/alice.pub → a private key: `flk keys add --name alice --git-add` refuses (exit 2) and copies nothing", async () => {
  const secret = keygen(outside, "id_ed25519", "ed25519");
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  symlinkSync(secret, join(site.root, "secrets/keys/alice.pub"));
  commit(site.root);
  const newKey = keygen(dir, "new", "ed25519", undefined, "alice@new");
  const before = world(site.root);
  const ran = await flk(["keys", "add", `${newKey}.pub`, "--name", "alice", "--git-add"], { cwd: site.root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain("secrets/keys/alice.pub is a symbolic link");
  for (const line of readFileSync(secret, "utf8").split("\n").filter((l) => l.length > 8)) expect(ran.stdout + ran.stderr).not.toContain(line);
  expect(world(site.root)).toEqual(before);
  // Listing the store (and so building an ISO from it) refuses the link too.
  const listed = await flk(["keys", "list"], { cwd: site.root });
  expect([listed.code, listed.stderr.includes("secrets/keys/alice.pub is a symbolic link")]).toEqual([2, true]);
  expect(world(site.root)).toEqual(before);
});

it("secrets/keys → a ~/.ssh-like directory: `flk keys rm` refuses (exit 2) and deletes nothing there", async () => {
  keygen(outside, "id_ed25519", "ed25519");
  mkdirSync(join(site.root, "secrets"));
  symlinkSync(outside, join(site.root, "secrets/keys"));
  commit(site.root);
  const before = world(site.root);
  for (const name of ["id_ed25519", "id_ed25519.pub"]) {
    const ran = await flk(["keys", "rm", name, "--git-add"], { cwd: site.root });
    expect([name, ran.code]).toEqual([name, 2]);
    expect(ran.stderr).toContain(`secrets/keys is a symbolic link (to ${outside})`);
  }
  const added = await flk(["keys", "add", `${keygen(dir, "k", "ed25519")}.pub`, "--name", "k"], { cwd: site.root });
  expect([added.code, added.stderr.includes("secrets/keys is a symbolic link")]).toEqual([2, true]);
  expect(world(site.root)).toEqual(before);
  expect(existsSync(join(outside, "id_ed25519.pub"))).toBe(true);
});

it("secrets/hosts/NixOS → elsewhere: --print-module writes nothing there; a real `flk iso` refuses (exit 2) before nix builds, naming the link", async () => {
  const fixture = await copyFixtureSite({
    toml: 'plugins = ["nix-iso", "ssh-keys"]\n',
    prepare: (root) => {
      mkdirSync(join(root, "secrets/hosts"), { recursive: true });
      writeFileSync(join(outside, "known_hosts"), "# the operator's own known_hosts\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n");
      symlinkSync(outside, join(root, "secrets/hosts/NixOS"));
    },
  });
  try {
    const env = { ...fixtureNixEnv(), XDG_STATE_HOME: state.dir };
    const before = world(fixture);
    const printed = await flk(["iso", "NixOS", "--print-module"], { cwd: fixture, env });
    expect(printed.code).toBe(0);
    expect(world(fixture)).toEqual(before);
    const built = await flk(["iso", "NixOS"], { cwd: fixture, env });
    expect(built.code).toBe(2);
    expect(built.stderr).toContain(`secrets/hosts/NixOS is a symbolic link (to ${outside})`);
    expect(built.stderr).not.toContain("building '/nix/store");
    expect(world(fixture)).toEqual(before);
    expect(existsSync(join(fixture, "result"))).toBe(false);
    // The refusal came before the host key: the state dir is as it was.
    expect(readdirSync(state.dir)).toEqual([]);
  } finally {
    rmSync(fixture, { recursive: true, force: true });
  }
}, 120_000);

it("flk ssh refuses a linked known_hosts instead of handing it to ssh", async () => {
  mkdirSync(join(site.root, "secrets/hosts/NixOS"), { recursive: true });
  writeFileSync(join(outside, "known_hosts"), "");
  symlinkSync(join(outside, "known_hosts"), join(site.root, "secrets/hosts/NixOS/known_hosts"));
  const target = { host: "NixOS", user: "nixos", endpoint: { address: "fe80::47", scope: "eth0", family: 6 as const, source: "static" } };
  const { error } = await captureOutput(() => makeFlk(site.root, {}, [], state.env).hooks.sshOptions.promise([], target));
  expect((error as { exitCode: number }).exitCode).toBe(2);
  expect((error as Error).message).toContain("secrets/hosts/NixOS/known_hosts is a symbolic link");
});

it("a link among the store's files (secrets/keys/sub.pub → a directory) is refused by name, not followed", async () => {
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  symlinkSync(outside, join(site.root, "secrets/keys/sub.pub"));
  const ran = await flk(["keys", "list"], { cwd: site.root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain("secrets/keys/sub.pub is a symbolic link");
});

it("I/O goes through the checked directory fd: a directory swapped for a link after the check does not redirect a write", async () => {
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  const dirFd = openSiteDir(site.root, "secrets/keys")!;
  try {
    // The attacker's swap, between flk's check and its write.
    renameSync(join(site.root, "secrets/keys"), join(site.root, "secrets/checked"));
    symlinkSync(outside, join(site.root, "secrets/keys"));
    writeFileSync(`/proc/self/fd/${dirFd.fd}/alice.pub`, "written through the fd\n");
    expect(readdirSync(outside)).toEqual([]);
    expect(readFileSync(join(site.root, "secrets/checked/alice.pub"), "utf8")).toBe("written through the fd\n");
  } finally {
    dirFd.close();
  }
  // And the next command sees the link and refuses it.
  const ran = await flk(["keys", "list"], { cwd: site.root });
  expect([ran.code, ran.stderr.includes("secrets/keys is a symbolic link")]).toEqual([2, true]);
});
