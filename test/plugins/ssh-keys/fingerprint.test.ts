/**
 * Fingerprints, bits and labels equal `ssh-keygen -lf` (the oracle) for every
 * key type flk accepts, for certificates, and for OpenSSH's published vector.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { systemTest } from "../../helpers/require.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fingerprintOf, formatKeyLine, parseKeyLine } from "../../../plugins/ssh-keys/keys.ts";
import { blob64, blobOf, fieldsOf, keygen, sh, sshKeygenList } from "./helpers.ts";

/** OpenSSH regress/unittests/sshkey/testdata/ed25519_1.pub and its published fingerprint (ed25519_1.fp). */
const ED25519_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFOG6kY7Rf4UtCFvPwKgo/BztXck2xC4a2WyA34XtIwZ ED25519 test key #1";
const ED25519_1_FP = "SHA256:L3k/oJubblSY0lB9Ulsl7emDMnRPKm/8udf2ccwk560";

/** These tests need ssh-keygen, the oracle. */
const it = systemTest(["ssh-keygen"], { root: false });

let dir: string;
let ca: string | undefined;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "flk-fp-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Our rendering of a key file in ssh-keygen -lf's format. */
function ours(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"))
    .map((l) => parseKeyLine(l.trim()))
    .map((k) => `${k.bits} ${k.fingerprint} ${k.comment || "no comment"} (${k.label})`);
}

function expectSameAsSshKeygen(file: string) {
  const oracle = sshKeygenList(file);
  expect(oracle.code).toBe(0);
  expect(ours(file)).toEqual(oracle.lines);
}

/** Sign `pub` with the test CA; returns the certificate file. */
function certify(pub: string): string {
  ca ??= keygen(dir, "ca", "ed25519");
  sh(["ssh-keygen", "-q", "-s", ca, "-I", "flk-test", "-n", "nixos", pub]);
  return pub.replace(/\.pub$/, "-cert.pub");
}

describe("fingerprints of keys that ssh-keygen generates equal ssh-keygen -lf", () => {
  const cases: Array<[string, string, number?]> = [
    ["ed25519", "ed25519"],
    ["ecdsa 256", "ecdsa", 256],
    ["ecdsa 384", "ecdsa", 384],
    ["ecdsa 521", "ecdsa", 521],
    ["rsa 2048", "rsa", 2048],
    ["rsa 3072", "rsa", 3072],
    ["rsa 4096", "rsa", 4096],
  ];
  for (const [label, type, bits] of cases) {
    it(`${label}: key and its certificate`, () => {
      const key = keygen(dir, label.replace(" ", "-"), type, bits);
      expectSameAsSshKeygen(`${key}.pub`);
      const cert = certify(`${key}.pub`);
      expectSameAsSshKeygen(cert);
      // A certificate is fingerprinted as the key it certifies.
      expect(ours(cert)[0]!.split(" ")[1]).toBe(ours(`${key}.pub`)[0]!.split(" ")[1]!);
    });
  }
});

it("OpenSSH's published ed25519_1 vector, and a certificate of that key", () => {
  const key = parseKeyLine(ED25519_1);
  expect(key.fingerprint).toBe(ED25519_1_FP);
  expect([key.bits, key.label, key.comment]).toEqual([256, "ED25519", "ED25519 test key #1"]);
  const pub = join(dir, "ed25519_1.pub");
  writeFileSync(pub, ED25519_1 + "\n");
  expectSameAsSshKeygen(pub);
  const cert = parseKeyLine(readFileSync(certify(pub), "utf8").trim());
  expect([cert.fingerprint, cert.label, cert.certificate]).toEqual([ED25519_1_FP, "ED25519-CERT", true]);
});

it("hand-made sk-ssh-ed25519 and sk-ecdsa keys, and certificates of them, equal ssh-keygen -lf", () => {
  const ed = fieldsOf(blobOf(readFileSync(`${keygen(dir, "for-sk-ed", "ed25519")}.pub`, "utf8")));
  const ec = fieldsOf(blobOf(readFileSync(`${keygen(dir, "for-sk-ec", "ecdsa", 256)}.pub`, "utf8")));
  const skEd = `sk-ssh-ed25519@openssh.com ${blob64("sk-ssh-ed25519@openssh.com", ed[1]!, "ssh:")} yubikey-ed`;
  const skEc = `sk-ecdsa-sha2-nistp256@openssh.com ${blob64("sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", ec[2]!, "ssh:flk")} yubikey-ec`;
  for (const [name, line, label] of [["sk-ed.pub", skEd, "ED25519-SK"], ["sk-ec.pub", skEc, "ECDSA-SK"]] as const) {
    const file = join(dir, name);
    writeFileSync(file, line + "\n");
    expect(parseKeyLine(line).label).toBe(label);
    expectSameAsSshKeygen(file);
    const cert = certify(file);
    expect(parseKeyLine(readFileSync(cert, "utf8").trim()).label).toBe(`${label}-CERT`);
    expectSameAsSshKeygen(cert);
  }
});

it("an authorized_keys options prefix is kept exactly and does not change the fingerprint", () => {
  const pub = readFileSync(`${keygen(dir, "opts", "ed25519")}.pub`, "utf8").trim();
  const options = 'from="10.0.0.1,fe80::/10",command="echo \\"a, b\\" c",no-pty,environment="X=a b"';
  const file = join(dir, "opts-line.pub");
  writeFileSync(file, `${options} ${pub}\n`);
  const key = parseKeyLine(`${options} ${pub}`);
  expect(key.options).toBe(options);
  expect(formatKeyLine(key)).toBe(`${options} ${pub}`);
  expectSameAsSshKeygen(file);
});

it("comments keep their inner blanks, and a key without comment reads 'no comment' like ssh-keygen", () => {
  const [type, data] = readFileSync(`${keygen(dir, "cmt", "ed25519")}.pub`, "utf8").trim().split(" ");
  const spaced = join(dir, "comments.pub");
  writeFileSync(spaced, `${type} ${data} two  spaces\tand tab\n`);
  expectSameAsSshKeygen(spaced);
  // (ssh-keygen prints "no comment" only for a one-key file; in a multi-line file it prints nothing.)
  const bare = join(dir, "bare.pub");
  writeFileSync(bare, `${type} ${data}\n`);
  expectSameAsSshKeygen(bare);
});

test("fingerprintOf is SHA256: plus unpadded base64 of sha256 of the blob", () => {
  const blob = new TextEncoder().encode("abc");
  // sha256("abc") = ba7816bf…15ad (FIPS 180-2 B.1)
  expect(fingerprintOf(blob)).toBe("SHA256:" + Buffer.from("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "hex").toString("base64").replace(/=+$/, ""));
});
