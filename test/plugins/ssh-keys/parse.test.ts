/**
 * Every malformed or refused key line gets a precise reason, and the reason
 * never repeats the line. Blobs are hand-assembled from wire fields.
 */
import { describe, expect, test } from "bun:test";
import { KeyLineError, parseKeyLine, splitOptions } from "../../../plugins/ssh-keys/keys.ts";
import { readKeyText, privateKeyKind } from "../../../plugins/ssh-keys/text.ts";
import { blob64 } from "./helpers.ts";

const ED25519_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFOG6kY7Rf4UtCFvPwKgo/BztXck2xC4a2WyA34XtIwZ ED25519 test key #1";
const ED_PK = new Uint8Array(Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIFOG6kY7Rf4UtCFvPwKgo/BztXck2xC4a2WyA34XtIwZ", "base64").subarray(19));

/** The P-256 base point G (FIPS 186-4 D.1.2.3), a valid public point. */
const G256 = Buffer.from(
  "04" + "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296" + "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
  "hex",
);

/** A positive mpint of `bits` bits (top bit set, odd), minimally encoded. */
function mpintOfBits(bits: number): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(bits / 8));
  bytes.fill(0xa5);
  bytes[0] = 1 << ((bits - 1) % 8) | (bits % 8 === 1 ? 0 : 1);
  bytes[bytes.length - 1]! |= 1;
  return bytes[0]! & 0x80 ? new Uint8Array([0, ...bytes]) : bytes;
}

function reason(line: string): string {
  try {
    parseKeyLine(line);
  } catch (error) {
    expect(error).toBeInstanceOf(KeyLineError);
    return (error as Error).message;
  }
  throw new Error("expected the line to be refused");
}

describe("refuses malformed key lines with the reason", () => {
  test("a blob whose inner type differs from the line's type", () => {
    expect(reason(ED25519_1.replace("ssh-ed25519", "ssh-rsa"))).toContain("the key data is a 'ssh-ed25519' key but the line says 'ssh-rsa'");
  });
  test("an ECDSA blob naming another curve than its type", () => {
    const line = `ecdsa-sha2-nistp256 ${blob64("ecdsa-sha2-nistp256", "nistp384", G256)}`;
    expect(reason(line)).toContain("names curve 'nistp384' but the key type says nistp256");
  });
  test("an ECDSA point that is not on the curve", () => {
    const off = Buffer.from(G256);
    off[64]! ^= 1;
    expect(reason(`ecdsa-sha2-nistp256 ${blob64("ecdsa-sha2-nistp256", "nistp256", off)}`)).toContain("not on curve nistp256");
  });
  test("a compressed ECDSA point", () => {
    expect(reason(`ecdsa-sha2-nistp256 ${blob64("ecdsa-sha2-nistp256", "nistp256", G256.subarray(0, 33))}`)).toContain("not an uncompressed nistp256 point");
  });
  test("trailing bytes after the key", () => {
    expect(reason(`ssh-ed25519 ${blob64("ssh-ed25519", ED_PK, { raw: new Uint8Array([0]) })}`)).toContain("1 unexpected trailing byte(s) after the key");
  });
  test("a truncated blob", () => {
    const full = blob64("ssh-ed25519", ED_PK);
    const cut = Buffer.from(Buffer.from(full, "base64").subarray(0, 30)).toString("base64");
    expect(reason(`ssh-ed25519 ${cut}`)).toContain("truncated");
  });
  test("an ed25519 key of the wrong length", () => {
    expect(reason(`ssh-ed25519 ${blob64("ssh-ed25519", ED_PK.subarray(0, 31))}`)).toContain("31 bytes, expected 32");
  });
  test("base64 with a character outside the alphabet, a bad length, or stray pad bits", () => {
    const data = ED25519_1.split(" ")[1]!;
    expect(reason(`ssh-ed25519 ${data.slice(0, 10)}*${data.slice(11)}`)).toContain("not valid base64");
    expect(reason(`ssh-ed25519 ${data}A`)).toContain("not valid base64");
    // "AAE=" and "AAF=" decode to the same bytes; only the first is canonical.
    const padded = blob64("ssh-ed25519", ED_PK, { raw: new Uint8Array([1, 2]) });
    expect(padded.endsWith("=")).toBe(true);
    const stray = padded.slice(0, -2) + String.fromCharCode(padded.charCodeAt(padded.length - 2) + 1) + "=";
    expect(reason(`ssh-ed25519 ${stray}`)).toContain("not canonical base64");
  });
  test("RSA moduli under 1024 bits, non-minimal and negative mpints, even exponents", () => {
    const e = new Uint8Array([1, 0, 1]);
    expect(reason(`ssh-rsa ${blob64("ssh-rsa", e, mpintOfBits(768))}`)).toContain("768 bits; OpenSSH rejects RSA keys under 1024 bits");
    expect(reason(`ssh-rsa ${blob64("ssh-rsa", new Uint8Array([0, 1, 0, 1]), mpintOfBits(2048))}`)).toContain("superfluous leading zero");
    expect(reason(`ssh-rsa ${blob64("ssh-rsa", e, new Uint8Array([0x80, 1]))}`)).toContain("negative");
    expect(reason(`ssh-rsa ${blob64("ssh-rsa", new Uint8Array([2]), mpintOfBits(2048))}`)).toContain("odd number");
  });
  test("ssh-dss keys and certificates, naming the reason", () => {
    expect(reason(`ssh-dss ${blob64("ssh-dss", new Uint8Array([1]))} old`)).toContain("DSA keys are refused");
    expect(reason(`ssh-dss-cert-v01@openssh.com ${blob64("x")}`)).toContain("DSA certificates are refused");
  });
  test("an unknown key type, shown only when it looks like one", () => {
    expect(reason(`ssh-foo ${blob64("ssh-foo")} c`)).toContain("unsupported key type 'ssh-foo'");
    expect(reason(`no-pty ${blob64("x")} c`)).toContain("unsupported key type");
  });
  test("an RFC 4716 or PEM public key, with the conversion command", () => {
    expect(reason("---- BEGIN SSH2 PUBLIC KEY ----")).toContain("ssh-keygen -i -f FILE");
    expect(reason("-----BEGIN PUBLIC KEY-----")).toContain("ssh-keygen -i -m PKCS8");
  });
  test("options with an unterminated quote, or options and no key", () => {
    expect(reason(`command="echo hi ${ED25519_1}`)).toContain("unterminated double quote");
    expect(reason('no-pty,command="x"')).toContain("no key after the options");
  });
  test("a reason never quotes the key data", () => {
    const data = ED25519_1.split(" ")[1]!;
    for (const line of [`ssh-rsa ${data}`, `ssh-ed25519 ${data}AAAA`, `ssh-ed25519 ${data.slice(0, 40)}`]) expect(reason(line)).not.toContain(data.slice(0, 20));
  });
});

describe("splitOptions follows sshd's quoting rules", () => {
  test('a blank inside quotes and an escaped \\" do not end the options', () => {
    expect(splitOptions('command="a \\" b",no-pty ssh-ed25519 AAAA')).toEqual({ options: 'command="a \\" b",no-pty', rest: "ssh-ed25519 AAAA" });
  });
});

describe("reading whole files", () => {
  test("CRLF, trailing blanks, blank lines and # comments are normalised away", () => {
    const text = `# my keys\r\n\r\n  ${ED25519_1}  \r\n\t\r\n`;
    const read = readKeyText(text);
    expect(read.errors).toEqual([]);
    expect(read.keys).toHaveLength(1);
    expect(read.keys[0]!.comment).toBe("ED25519 test key #1");
    expect(read.keys[0]!.line).toBe(3);
  });
  test("a UTF-8 BOM is stripped and reported", () => {
    const read = readKeyText(`\uFEFF${ED25519_1}\n`);
    expect(read.bomStripped).toBe(true);
    expect(read.keys).toHaveLength(1);
    expect(readKeyText(ED25519_1).bomStripped).toBe(false);
  });
  test("bad lines are reported by line number next to good ones", () => {
    const read = readKeyText(`${ED25519_1}\nssh-foo AAAA\n`);
    expect(read.keys).toHaveLength(1);
    expect(read.errors).toEqual([{ line: 2, message: expect.stringContaining("unsupported key type") }]);
  });
  test("private key markers of every common format are recognised", () => {
    expect(privateKeyKind("-----BEGIN OPENSSH PRIVATE KEY-----\n")).toBe("an OpenSSH private key");
    expect(privateKeyKind("-----BEGIN RSA PRIVATE KEY-----")).toBe("a PEM private key");
    expect(privateKeyKind("-----BEGIN EC PRIVATE KEY-----")).toBe("a PEM private key");
    expect(privateKeyKind("-----BEGIN DSA PRIVATE KEY-----")).toBe("a PEM private key");
    expect(privateKeyKind("-----BEGIN ENCRYPTED PRIVATE KEY-----")).toBe("a PKCS#8 private key");
    expect(privateKeyKind("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n")).toBe("a PuTTY private key (.ppk)");
    expect(privateKeyKind("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ")).toBe("an OpenSSH private key body");
    expect(privateKeyKind(ED25519_1)).toBeUndefined();
  });
});
