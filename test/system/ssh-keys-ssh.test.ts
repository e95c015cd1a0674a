/**
 * `flk ssh` logs in to a real sshd in another network namespace over IPv6
 * link-local, trusting only the host key flk pinned; sshd trusts only the
 * keys flk stored. The flk binary is compiled from a test entry that adds a
 * stand-in locator (the namespace's address), so mDNS/NDP are not involved;
 * login is as root (`--user root`), which the namespaced sshd permits with
 * a key only.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Link } from "../helpers/netns.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { captureOutput, keygen, makeFlk, makeSite, makeState, sh } from "../plugins/ssh-keys/helpers.ts";
import { storeFiles } from "../../plugins/ssh-keys/store.ts";
import { hostKeyPaths } from "../../plugins/ssh-keys/hostkey.ts";
import { FLK } from "../helpers/binary.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);
const ENTRY = join(import.meta.dir, "..", "plugins", "ssh-keys", "flk-with-stand-in-locator.ts");

let dir: string;
let bin: string;
let site: ReturnType<typeof makeSite>;
let link: Link | undefined;
let user: string;
let state: ReturnType<typeof makeState>;
/** The private host key the operator's state dir holds for HOST (what its stick's sshd presents). */
const hostKey = (host = "NixOS") => hostKeyPaths(state.env, site.root, host).privateKey;
beforeAll(async () => {
  state = makeState();
  dir = mkdtempSync(join(tmpdir(), "flk-ssh-sys-"));
  site = makeSite();
  mkdirSync(join(site.root, "hosts"));
  writeFileSync(join(site.root, "hosts/NixOS.nix"), "{ }\n");
  bin = join(dir, "flk-with-stand-in-locator");
  sh([join(import.meta.dir, "..", "..", "node_modules", ".bin", "bun"), "build", "--compile", "--minify", "--format=esm", ENTRY, "--outfile", bin]);
  user = keygen(dir, "operator", "ed25519", undefined, "operator@test");
  // What an operator does: flk keys add, then flk iso (whose prepareIso tap makes the host key and pins its public half).
  const added = Bun.spawnSync([bin, "keys", "add", `${user}.pub`], { cwd: site.root, stderr: "pipe" });
  if (added.exitCode !== 0) throw new Error(added.stderr.toString());
  const flk = makeFlk(site.root, {}, [], state.env);
  for (const host of ["NixOS", "Other"]) await captureOutput(() => flk.hooks.prepareIso.promise({ host, siteRoot: site.root }));
  link = await createLink();
}, 60_000);
afterAll(async () => {
  await link?.cleanup();
  site.cleanup();
  state.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The authorized_keys sshd gets: exactly the files flk stored. */
const storedKeys = () => storeFiles(site.root).map((f) => readFileSync(join(site.root, f), "utf8")).join("");

async function flkSsh(sshd: Sshd, key: string, command: string[]) {
  await linkLocal(link!.b);
  return link!.b.exec(
    [bin, "--site", site.root, "ssh", "NixOS", "--user", "root", "--", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", key, ...command],
    { env: { FLK_TEST_LOCATE: `${sshd.address}%${link!.b.iface}`, NO_COLOR: "1" } },
  );
}

it("flk ssh logs in over the link-local address with the pinned host key and the stored key", async () => {
  const sshd = await startSshd(link!.a, { hostKey: hostKey(), authorizedKeys: storedKeys() });
  try {
    const ran = await flkSsh(sshd, user, ["echo", "logged-in-as", "$(id -un)"]);
    expect(ran.stdout.trim()).toBe("logged-in-as root");
    expect(ran.code).toBe(0);
    expect(ran.stderr).toContain(`root@${sshd.address}%${link!.b.iface} (found by test-stand-in)`);
    expect(ran.stderr).not.toContain("Warning: Permanently added");
    // The remote command's exit status is flk's.
    expect((await flkSsh(sshd, user, ["exit", "7"])).code).toBe(7);
    // A key flk did not store is turned away by sshd.
    const stranger = keygen(dir, "stranger", "ed25519");
    const refused = await flkSsh(sshd, stranger, ["true"]);
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain("Permission denied");
    // flk says which keys the ISO lets in and which this login offered, by fingerprint (ssh-keygen -lf is the oracle).
    const fingerprint = (file: string) => sh(["ssh-keygen", "-lf", file]).split(" ")[1]!;
    expect(refused.stderr).toContain("refused the login (Permission denied)");
    expect(refused.stderr).toMatch(new RegExp(`the site has:\\n  ${fingerprint(`${user}.pub`).replace(/[+/]/g, "\\$&")}  operator@test`));
    expect(refused.stderr).toMatch(new RegExp(`You offered:\\n  ${fingerprint(`${stranger}.pub`).replace(/[+/]/g, "\\$&")} `));
    expect(refused.stderr).toContain("None of the keys you offered is authorized");
  } finally {
    await sshd.stop();
  }
});

it("flk ssh refuses an installer with any other host key: a stranger's, another host's stick, a leaked old site key", async () => {
  const legacyDir = join(dir, "legacy");
  sh(["mkdir", "-p", legacyDir]);
  const impostors: Array<[string, string]> = [
    ["a stranger's key", keygen(dir, "impostor-host", "ed25519", undefined, "impostor")],
    ["the operator's key of another host (Other)", hostKey("Other")],
    ["a key that an old flk kept in the site", keygen(legacyDir, "ssh_host_ed25519_key", "ed25519", undefined, "flk live installer NixOS")],
  ];
  for (const [what, key] of impostors) {
    const sshd = await startSshd(link!.a, { hostKey: key, authorizedKeys: storedKeys() });
    try {
      const ran = await flkSsh(sshd, user, ["echo", "should-not-run"]);
      expect([what, ran.code]).toEqual([what, 255]);
      expect(ran.stdout).not.toContain("should-not-run");
      expect(ran.stderr).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
      expect(ran.stderr).toContain("Host key verification failed");
      // flk's next step, not ssh's advice to delete the pinned line.
      expect(ran.stderr).toContain("this stick was built with another host key: rebuild and rewrite it (`flk iso NixOS && flk write`)");
      expect(ran.stderr).not.toMatch(/ssh-keygen .*-R|remove with:|Add correct host key/);
    } finally {
      await sshd.stop();
    }
  }
});

it("flk ssh with no address found exits 1 and lists what was tried", async () => {
  const ran = await link!.b.exec([bin, "--site", site.root, "ssh", "NixOS", "--timeout", "300"], { env: { NO_COLOR: "1", FLK_TEST_LOCATE: "" } });
  expect(ran.code).toBe(1);
  expect(ran.stderr).toContain("could not find the live installer of NixOS");
  expect(ran.stderr).toContain("test-stand-in-locator: $FLK_TEST_LOCATE is not set");
});

it("the real flk binary finds the installer on fe80::47 through the built-in locators (mdns, then ipv6-lla) and logs in", async () => {
  const sshd = await startSshd(link!.a, { hostKey: hostKey(), authorizedKeys: storedKeys(), address: "fe80::47" });
  try {
    await linkLocal(link!.b);
    const ran = await link!.b.exec(
      [FLK, "--site", site.root, "ssh", "NixOS", "--user", "root", "--timeout", "1000", "--", "-F", "/dev/null", "-o", "BatchMode=yes", "-i", user, "echo", "found"],
      { env: { NO_COLOR: "1" } },
    );
    expect(ran.stdout.trim()).toBe("found");
    expect(ran.code).toBe(0);
    expect(ran.stderr).toContain(`root@fe80::47%${link!.b.iface}`);
  } finally {
    await sshd.stop();
  }
});
