/**
 * End to end through the compiled binary ($FLK_BIN or dist/flk): a success,
 * refusals with their exit codes, and private keys refused without a single
 * line of them reaching stdout or stderr.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { systemTest } from "../../helpers/require.ts";
import { flk } from "../../helpers/binary.ts";
import { keygen, makeSite, sshKeygenList } from "./helpers.ts";

const it = systemTest(["ssh-keygen"], { root: false });

let dir: string;
let site: ReturnType<typeof makeSite>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "flk-cli-keys-"));
  site = makeSite();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  site.cleanup();
});

it("flk keys add stores a key, flk keys list --json prints the documented shape, flk keys rm removes it", async () => {
  const key = keygen(dir, "alice", "ed25519", undefined, "alice@laptop");
  const added = await flk(["keys", "add", `${key}.pub`, "--name", "alice"], { cwd: site.root });
  expect(added.code).toBe(0);
  expect(added.stdout).toContain("added alice  256 SHA256:");
  expect(added.stderr).toContain("git add -- secrets/keys/alice.pub");
  const listed = await flk(["keys", "list", "--json"], { cwd: site.root });
  expect(listed.code).toBe(0);
  const [oracle] = sshKeygenList(`${key}.pub`).lines;
  expect(JSON.parse(listed.stdout)).toEqual([
    { name: "alice", type: "ED25519", bits: 256, fingerprint: oracle!.split(" ")[1], comment: "alice@laptop", file: "secrets/keys/alice.pub", options: [], risky: [] },
  ]);
  const unknown = await flk(["keys", "rm", "alcie"], { cwd: site.root });
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain("no key named 'alcie'");
  const removed = await flk(["keys", "rm", "alice"], { cwd: site.root });
  expect(removed.code).toBe(0);
  expect(JSON.parse((await flk(["keys", "list", "--json"], { cwd: site.root })).stdout)).toEqual([]);
});

it("flk keys add - reads stdin; a duplicate is refused with exit 2", async () => {
  const key = keygen(dir, "bob", "ecdsa", 256, "bob@desk");
  const first = await flk(["keys", "add", "-"], { cwd: site.root, input: readFileSync(`${key}.pub`, "utf8") });
  expect(first.code).toBe(0);
  const again = await flk(["keys", "add", `${key}.pub`, "--name", "bobby"], { cwd: site.root });
  expect(again.code).toBe(2);
  expect(again.stderr).toContain("already stored as 'bob@desk'");
});

/** A PuTTY .ppk (format 3) laid out like puttygen writes it, with random key material. */
function fakePpk(): string {
  const b64 = (n: number) => randomBytes(n).toString("base64");
  return [
    "PuTTY-User-Key-File-3: ssh-ed25519",
    "Encryption: none",
    "Comment: eddsa-key-20240101",
    "Public-Lines: 2",
    ...b64(51).match(/.{1,64}/g)!,
    "Private-Lines: 1",
    b64(36),
    `Private-MAC: ${randomBytes(32).toString("hex")}`,
  ].join("\n") + "\n";
}

function privateKeys(): Array<[string, string]> {
  return [
    ["OpenSSH ed25519", keygen(dir, "p-ed", "ed25519")],
    ["OpenSSH ed25519 with a passphrase", keygen(dir, "p-enc", "ed25519", undefined, "x", ["-N", "secret-pass"])],
    ["PEM RSA", keygen(dir, "p-rsa", "rsa", 2048, "x", ["-m", "PEM"])],
    ["PEM EC", keygen(dir, "p-ec", "ecdsa", 256, "x", ["-m", "PEM"])],
    ["PKCS#8 RSA", keygen(dir, "p-p8", "rsa", 2048, "x", ["-m", "PKCS8"])],
    ["PuTTY .ppk", (() => { const f = join(dir, "p.ppk"); writeFileSync(f, fakePpk()); return f; })()],
  ];
}

it("refuses private keys (file, stdin, mixed with public keys) with exit 2 and echoes none of their lines", async () => {
  const pub = readFileSync(`${keygen(dir, "okpub", "ed25519")}.pub`, "utf8");
  for (const [kind, file] of privateKeys()) {
    const secret = readFileSync(file, "utf8");
    const lines = secret.split("\n").map((l) => l.trim()).filter((l) => l.length >= 8);
    const runs = [
      await flk(["keys", "add", file], { cwd: site.root }),
      await flk(["keys", "add", "-"], { cwd: site.root, input: secret }),
      await flk(["keys", "add", "-", "--name", "mixed"], { cwd: site.root, input: pub + secret }),
      await flk(["keys", "add", "-", "--name", "body"], { cwd: site.root, input: lines.filter((l) => !l.includes("-----")).join("\n") }),
    ];
    // Without its BEGIN line only an OpenSSH body is recognisable as private; any other body is refused as invalid lines.
    runs.forEach((ran, i) => {
      expect([kind, i, ran.code]).toEqual([kind, i, 2]);
      if (i < 3 || kind.startsWith("OpenSSH")) expect(ran.stderr).toContain("refused; nothing was written and none of it is shown");
      for (const line of lines) {
        expect(ran.stdout).not.toContain(line);
        expect(ran.stderr).not.toContain(line);
      }
    });
  }
  expect(JSON.parse((await flk(["keys", "list", "--json"], { cwd: site.root })).stdout).map((k: { name: string }) => k.name)).not.toContain("mixed");
});

it("points at the .pub when given the private half of a pair", async () => {
  const key = keygen(dir, "pair", "ed25519");
  const ran = await flk(["keys", "add", key], { cwd: site.root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain(`flk keys add ${key}.pub`);
});

it("a missing file is a usage refusal (exit 2); bare `flk keys` shows its help (exit 0)", async () => {
  const missing = await flk(["keys", "add", join(dir, "nope.pub")], { cwd: site.root });
  expect([missing.code, missing.stderr.includes("nope.pub does not exist")]).toEqual([2, true]);
  const bare = await flk(["keys"], { cwd: site.root });
  expect([bare.code, bare.stdout.includes("USAGE flk keys add|list|rm")]).toEqual([0, true]);
});
