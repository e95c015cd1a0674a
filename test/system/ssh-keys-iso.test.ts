/**
 * The authorized keys and the pinned host key read back from a real ISO
 * built from the fixture site (nix-iso's stand-in module system renders
 * /etc/ssh/authorized_keys.d/<user> and environment.etc like NixOS).
 * ssh-keygen is the oracle for what the image's authorized_keys hold.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFixtureIso, type FixtureIso } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { addKeys } from "../../plugins/ssh-keys/add.ts";
import { ensureHostKey } from "../../plugins/ssh-keys/hostkey.ts";
import { captureOutput, keygen, makeFlk, sshKeygenList } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["nix", "xorriso", "git", "ssh-keygen"], { root: false });
const TOML = `plugins = ["nix-iso", "ssh-keys"]\n\n[ssh-keys]\nusers = ["nixos", "root"]\nkeyFiles = ["extra/ci.pub"]\n`;

let keys: string;
let built: FixtureIso | undefined;
beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), "flk-iso-keys-"));
  const alice = keygen(keys, "alice", "ed25519", undefined, "alice@laptop");
  const bob = keygen(keys, "bob", "ecdsa", 384, "bob@desk");
  const ci = keygen(keys, "ci", "rsa", 3072, "ci@runner");
  built = await buildFixtureIso({
    toml: TOML,
    prepare: async (site) => {
      // What `flk keys add` and the first `flk iso` do, committed by the helper so Nix sees it.
      const flk = makeFlk(site, { users: ["nixos", "root"], keyFiles: ["extra/ci.pub"] });
      await captureOutput(() => addKeys(flk, { text: readFileSync(`${alice}.pub`, "utf8") + readFileSync(`${bob}.pub`, "utf8"), source: "team.pub" }));
      mkdirSync(join(site, "extra"));
      writeFileSync(join(site, "extra/ci.pub"), readFileSync(`${ci}.pub`));
      await ensureHostKey(site, "NixOS");
    },
  });
}, 300_000);
afterAll(() => {
  built?.cleanup();
  rmSync(keys, { recursive: true, force: true });
});

it("the ISO's /etc/ssh/authorized_keys.d/<user> holds exactly the stored keys and keyFiles, for nixos and root", async () => {
  const expected = ["alice", "bob", "ci"].map((k) => sshKeygenList(join(keys, `${k}.pub`)).lines[0]!.split(" ")[1]);
  for (const user of ["nixos", "root"]) {
    const text = await built!.read(`/etc/ssh/authorized_keys.d/${user}`);
    // each stored key's type and base64 blob, as ssh-keygen wrote it, is in the file the image holds
    for (const k of ["alice", "bob", "ci"]) expect(text).toContain(readFileSync(join(keys, `${k}.pub`), "utf8").split(" ").slice(0, 2).join(" "));
    const file = join(keys, `image-${user}`);
    writeFileSync(file, text!);
    expect(sshKeygenList(file).lines.map((l) => l.split(" ")[1]).sort()).toEqual([...expected].sort());
  }
  expect(await built!.read("/etc/ssh/authorized_keys.d/nobody")).toBeUndefined();
});

it("the ISO's sshd host key is the site's pinned key, 0600, with its .pub 0644", async () => {
  const site = built!.site;
  expect(await built!.read("/etc/ssh/ssh_host_ed25519_key")).toBe(readFileSync(join(site, "secrets/hosts/NixOS/ssh_host_ed25519_key"), "utf8"));
  expect(await built!.read("/etc/ssh/ssh_host_ed25519_key.pub")).toBe(readFileSync(join(site, "secrets/hosts/NixOS/ssh_host_ed25519_key.pub"), "utf8"));
  expect(built!.mode("/etc/ssh/ssh_host_ed25519_key")).toBe(0o600);
  expect(built!.mode("/etc/ssh/ssh_host_ed25519_key.pub")).toBe(0o644);
  // The known_hosts flk ssh uses names that same key.
  const known = readFileSync(join(site, "secrets/hosts/NixOS/known_hosts"), "utf8");
  expect(known).toContain(`flk-live-nixos ${readFileSync(join(site, "secrets/hosts/NixOS/ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" ")}`);
});

it("the first build of a host generates its host key and refuses until git tracks it, naming the git add", async () => {
  const error = await buildFixtureIso({ toml: 'plugins = ["nix-iso", "ssh-keys"]\n' }).then(
    (iso) => {
      iso.cleanup();
      return undefined;
    },
    (e: Error) => e,
  );
  expect(error?.message).toContain("secrets/hosts/NixOS/ssh_host_ed25519_key");
  expect(error?.message).toContain("not tracked by git");
  expect(error?.message).toContain("add");
}, 300_000);
