/**
 * With pinHostKey on, dist/flk never trusts a host key on first use: a
 * missing secrets/hosts/HOST/known_hosts (a teammate's clone before it was
 * committed) is exit 2 before ssh runs, whether the installer was located
 * (fe80::47) or given (--target); an address alone names no pinned key and
 * is refused; and nothing the operator's own ssh_config says
 * (KnownHostsCommand, ~/.ssh/known_hosts, StrictHostKeyChecking no) can
 * vouch for another key. A real sshd in a network namespace presents the
 * genuine or an impostor's key; ssh-keygen makes the keys.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Link } from "../helpers/netns.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { captureOutput, keygen, makeFlk, makeSite, makeState } from "../plugins/ssh-keys/helpers.ts";
import { hostKeyPaths } from "../../plugins/ssh-keys/hostkey.ts";
import { FLK } from "../helpers/binary.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);

let dir: string;
let home: string;
let site: ReturnType<typeof makeSite>;
let state: ReturnType<typeof makeState>;
let link: Link | undefined;
let user: string;
const KNOWN_HOSTS = "secrets/hosts/NixOS/known_hosts";

beforeAll(async () => {
  state = makeState();
  dir = mkdtempSync(join(tmpdir(), "flk-pinned-only-"));
  home = join(dir, "home");
  mkdirSync(join(home, ".ssh"), { recursive: true, mode: 0o700 });
  site = makeSite();
  mkdirSync(join(site.root, "hosts"));
  writeFileSync(join(site.root, "hosts/NixOS.nix"), "{ }\n");
  user = keygen(dir, "operator", "ed25519");
  // What flk iso's prepareIso tap does: the host key in the state dir, its public half pinned in the site.
  await captureOutput(() => makeFlk(site.root, {}, [], state.env).hooks.prepareIso.promise({ host: "NixOS", siteRoot: site.root }));
  link = await createLink();
  await linkLocal(link.b);
}, 60_000);
afterAll(async () => {
  await link?.cleanup();
  site.cleanup();
  state.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** dist/flk in the operator's namespace, with a HOME of its own (its ~/.ssh is what ssh would fall back to). */
function flkOnLink(args: string[]) {
  return link!.b.exec([FLK, "--site", site.root, ...args], { env: { NO_COLOR: "1", HOME: home, XDG_STATE_HOME: state.dir } });
}

const genuineKey = () => hostKeyPaths(state.env, site.root, "NixOS").privateKey;
const login = () => ["--user", "root", "--timeout", "1000", "--", "-o", "IdentitiesOnly=yes", "-i", user, "echo", "logged-in"];

async function withSshd<T>(hostKey: string, address: string | undefined, fn: (sshd: Sshd) => Promise<T>): Promise<T> {
  const sshd = await startSshd(link!.a, { hostKey, authorizedKeys: readFileSync(`${user}.pub`, "utf8"), ...(address ? { address } : {}) });
  try {
    return await fn(sshd);
  } finally {
    await sshd.stop();
    if (address) await link!.a.exec(["ip", "-6", "addr", "del", `${address}/64`, "dev", link!.a.iface]);
  }
}

/** Run `fn` with the site's known_hosts moved away (a clone that lacks it), then put it back. */
async function withoutPin<T>(fn: () => Promise<T>): Promise<T> {
  const file = join(site.root, KNOWN_HOSTS);
  renameSync(file, `${dir}/known_hosts.away`);
  try {
    return await fn();
  } finally {
    renameSync(`${dir}/known_hosts.away`, file);
  }
}

for (const where of ["fe80::47", "its EUI-64 address"] as const) {
  it(`no known_hosts in the site while pinHostKey is on: flk ssh NixOS (found on ${where}) is exit 2 before ssh runs, naming the file and flk iso`, async () => {
    await withSshd(genuineKey(), where === "fe80::47" ? "fe80::47" : undefined, (sshd) =>
      withoutPin(async () => {
        const ran = await flkOnLink(["--verbose", "ssh", "NixOS", ...login()]);
        expect(ran.code).toBe(2);
        expect(ran.stdout).not.toContain("logged-in");
        expect(ran.stderr).toContain(`${KNOWN_HOSTS} is missing, and [ssh-keys] pinHostKey is on`);
        expect(ran.stderr).toContain(`Nothing was sent to root@${sshd.address}%${link!.b.iface}`); // located there, then refused
        expect(ran.stderr).toContain("`flk iso NixOS` records its key there");
        expect(ran.stderr).toContain("git pull");
        expect(ran.stderr).not.toContain("[exec] $ ssh");
        expect(ran.stderr).not.toContain("Are you sure you want to continue connecting");
        expect(ran.stderr).not.toContain("Set pinHostKey = true");
        // ssh never ran (a locator's port probe is all sshd saw), nothing written to ~/.ssh.
        expect(sshd.log()).not.toMatch(/preauth|Accepted|Failed/);
        expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
      }),
    );
  });
}

it("the same with the address given (flk ssh NixOS --target ADDR%IF): exit 2, sshd never contacted", async () => {
  await withSshd(genuineKey(), undefined, (sshd) =>
    withoutPin(async () => {
      const ran = await flkOnLink(["ssh", "NixOS", "--target", `${sshd.address}%${link!.b.iface}`, ...login()]);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(`${KNOWN_HOSTS} is missing`);
      expect(ran.stderr).toContain(`Nothing was sent to root@${sshd.address}%${link!.b.iface}`);
      expect(sshd.log()).not.toContain("Connection from");
      expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
    }),
  );
});

it("an address alone (flk ssh ADDR%IF) names no pinned key: exit 2 pointing at flk ssh HOST --target ADDR, which then logs in", async () => {
  await withSshd(genuineKey(), undefined, async (sshd) => {
    const address = `${sshd.address}%${link!.b.iface}`;
    const alone = await flkOnLink(["ssh", address, ...login()]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain(`\`flk ssh HOST --target ${address}\``);
    expect(sshd.log()).not.toContain("Connection from");
    expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
    const named = await flkOnLink(["ssh", "NixOS", "--target", address, ...login()]);
    expect(named.stdout.trim()).toBe("logged-in");
    expect(named.code).toBe(0);
    expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
  });
});

it("the operator's ssh_config cannot vouch for an impostor: KnownHostsCommand, ~/.ssh/known_hosts and StrictHostKeyChecking no are ignored for a pinned host", async () => {
  const impostor = keygen(dir, "impostor", "ed25519", undefined, "impostor");
  const impostorPub = readFileSync(`${impostor}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  await withSshd(impostor, "fe80::47", async (sshd) => {
    const names = "flk-live-nixos,fe80::47";
    const vouch = join(dir, "vouch.sh");
    writeFileSync(vouch, `#!/bin/sh\necho "${names} ${impostorPub}"\n`, { mode: 0o755 });
    writeFileSync(join(home, ".ssh", "known_hosts"), `${names} ${impostorPub}\n`);
    writeFileSync(join(home, ".ssh", "config"), `Host *\n  StrictHostKeyChecking no\n  KnownHostsCommand ${vouch}\n  UserKnownHostsFile ~/.ssh/known_hosts\n`);
    try {
      const ran = await flkOnLink(["ssh", "NixOS", ...login()]);
      expect(ran.stdout).not.toContain("logged-in");
      expect(ran.code).toBe(255);
      expect(ran.stderr).toContain("this stick was built with another host key");
      // flk's next step only: ssh's advice to delete the pinned line (`ssh-keygen -f FILE -R NAME`) is held back.
      expect(ran.stderr).not.toMatch(/ssh-keygen .*-R|remove with|Add correct host key/);
      expect(sshd.log()).not.toContain("Accepted publickey");
    } finally {
      rmSync(join(home, ".ssh", "config"));
      rmSync(join(home, ".ssh", "known_hosts"));
    }
  });
});

it("flk install --target to an installer with another host key says so (rebuild and rewrite), not 'cannot reach … authorized keys', and never ssh's ssh-keygen -R", async () => {
  const impostor = keygen(dir, "impostor2", "ed25519", undefined, "impostor");
  await withSshd(impostor, undefined, async (sshd) => {
    const ran = await flkOnLink(["install", "NixOS", "--target", `root@${sshd.address}%${link!.b.iface}`, "--dry-run", "-i", user]);
    expect(ran.code).toBe(255);
    expect(ran.stderr).toContain("this stick was built with another host key: rebuild and rewrite it (`flk iso NixOS && flk write`)");
    expect(ran.stderr).not.toContain("cannot reach");
    expect(ran.stderr).not.toContain("authorized keys");
    expect(ran.stderr).not.toMatch(/ssh-keygen .*-R|remove with|Add correct host key/);
    expect(sshd.log()).not.toContain("Accepted publickey");
  });
});
