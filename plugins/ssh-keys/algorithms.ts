/**
 * The public key algorithms flk accepts, and how each one's blob is laid out
 * (OpenSSH PROTOCOL, PROTOCOL.certkeys, PROTOCOL.u2f; RFC 4253 §6.6,
 * RFC 5656 §3.1, RFC 8709 §4). Labels are ssh-keygen's short names, as it
 * prints them in parentheses after a fingerprint.
 */
import { WireError, WireReader, bitLength, concatBytes, sshString, toBigInt } from "./wire.ts";

/** A short-Weierstrass NIST curve: y² = x³ − 3x + b (mod p), FIPS 186-4 D.1.2. */
interface Curve {
  name: "nistp256" | "nistp384" | "nistp521";
  bits: number;
  /** Bytes per coordinate. */
  size: number;
  p: bigint;
  b: bigint;
}

const CURVES: Record<Curve["name"], Curve> = {
  nistp256: {
    name: "nistp256",
    bits: 256,
    size: 32,
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  nistp384: {
    name: "nistp384",
    bits: 384,
    size: 48,
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  nistp521: {
    name: "nistp521",
    bits: 521,
    size: 66,
    p: 2n ** 521n - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

/** One plain (non-certificate) key algorithm. */
export interface Algorithm {
  /** The key type as it appears on a line and inside the blob. */
  name: string;
  /** ssh-keygen's label: `ED25519`, `ECDSA-SK`, … */
  label: string;
  family: "ed25519" | "ecdsa" | "rsa";
  curve?: Curve;
  /** FIDO/U2F security-key backed (`sk-`): the blob ends with the application string. */
  sk: boolean;
}

const PLAIN: Algorithm[] = [
  { name: "ssh-ed25519", label: "ED25519", family: "ed25519", sk: false },
  { name: "sk-ssh-ed25519@openssh.com", label: "ED25519-SK", family: "ed25519", sk: true },
  { name: "ecdsa-sha2-nistp256", label: "ECDSA", family: "ecdsa", curve: CURVES.nistp256, sk: false },
  { name: "ecdsa-sha2-nistp384", label: "ECDSA", family: "ecdsa", curve: CURVES.nistp384, sk: false },
  { name: "ecdsa-sha2-nistp521", label: "ECDSA", family: "ecdsa", curve: CURVES.nistp521, sk: false },
  { name: "sk-ecdsa-sha2-nistp256@openssh.com", label: "ECDSA-SK", family: "ecdsa", curve: CURVES.nistp256, sk: true },
  { name: "ssh-rsa", label: "RSA", family: "rsa", sk: false },
];

/** PROTOCOL.certkeys names a certificate type after its key type: `ssh-ed25519` → `ssh-ed25519-cert-v01@openssh.com`. */
export function certificateName(plain: string): string {
  return `${plain.replace(/@openssh\.com$/, "")}-cert-v01@openssh.com`;
}

const BY_NAME = new Map<string, { algorithm: Algorithm; certificate: boolean }>();
for (const algorithm of PLAIN) {
  BY_NAME.set(algorithm.name, { algorithm, certificate: false });
  BY_NAME.set(certificateName(algorithm.name), { algorithm, certificate: true });
}

/** Key types OpenSSH knows that flk refuses, with the reason. */
export const REFUSED: Readonly<Record<string, string>> = Object.freeze({
  "ssh-dss": "DSA keys are refused: OpenSSH disabled them by default in 7.0 and removed them in 9.8. Use an ed25519 key (`ssh-keygen -t ed25519`)",
  [certificateName("ssh-dss")]: "DSA certificates are refused: OpenSSH removed DSA in 9.8. Use an ed25519 key (`ssh-keygen -t ed25519`)",
  "ssh-xmss@openssh.com": "XMSS keys are experimental in OpenSSH and not built by most distributions. Use an ed25519 key",
});

/** The algorithm of a line's key type, or undefined when flk does not know it. */
export function algorithmOf(type: string): { algorithm: Algorithm; certificate: boolean } | undefined {
  return BY_NAME.get(type);
}

/** What the blob says about the key. */
export interface KeyMaterial {
  bits: number;
  /**
   * The plain public key blob that a fingerprint hashes. For a certificate it
   * is rebuilt from the certified key, because ssh-keygen fingerprints a
   * certificate as its key (sshkey_fingerprint serialises with force_plain).
   */
  plain: Uint8Array;
}

/** Parse the blob of a key whose (already checked) type string was just read. */
export function readKeyBlob(reader: WireReader, algorithm: Algorithm, certificate: boolean): KeyMaterial {
  if (certificate) reader.bytes("certificate nonce");
  const start = reader.offset;
  const bits = readKeyFields(reader, algorithm);
  const plain = concatBytes(sshString(algorithm.name), reader.since(start));
  if (certificate) readCertificateTail(reader);
  reader.end(certificate ? "certificate" : "key");
  return { bits, plain };
}

function readKeyFields(reader: WireReader, algorithm: Algorithm): number {
  let bits: number;
  if (algorithm.family === "ed25519") {
    // RFC 8709 §4: the public key is exactly 32 octets.
    const key = reader.bytes("ed25519 public key");
    if (key.length !== 32) throw new WireError(`the ed25519 public key is ${key.length} bytes, expected 32`);
    bits = 256;
  } else if (algorithm.family === "ecdsa") {
    bits = readEcdsaFields(reader, algorithm.curve!);
  } else {
    bits = readRsaFields(reader);
  }
  // PROTOCOL.u2f: security-key keys carry the FIDO application ("ssh:" by default).
  if (algorithm.sk) reader.text("security-key application");
  return bits;
}

function readEcdsaFields(reader: WireReader, curve: Curve): number {
  // RFC 5656 §3.1: the curve identifier inside the blob must match the key type.
  const named = reader.text("curve name");
  if (named !== curve.name) throw new WireError(`the key data names curve '${named.slice(0, 40)}' but the key type says ${curve.name}`);
  const point = reader.bytes("ECDSA public point");
  // SEC 1 §2.3.3: OpenSSH writes points uncompressed: 0x04 || X || Y.
  if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04)
    throw new WireError(`the ECDSA point is not an uncompressed ${curve.name} point (${point.length} bytes, expected ${1 + 2 * curve.size} starting with 0x04)`);
  const x = toBigInt(point.subarray(1, 1 + curve.size));
  const y = toBigInt(point.subarray(1 + curve.size));
  if (x >= curve.p || y >= curve.p || (y * y - (x * x * x - 3n * x + curve.b)) % curve.p !== 0n)
    throw new WireError(`the ECDSA point is not on curve ${curve.name}`);
  return curve.bits;
}

function readRsaFields(reader: WireReader): number {
  // RFC 4253 §6.6: e, then n.
  const e = reader.mpint("RSA exponent");
  const n = reader.mpint("RSA modulus");
  if (e < 3n || e % 2n === 0n) throw new WireError("the RSA exponent is not an odd number ≥ 3");
  const bits = bitLength(n);
  // OpenSSH's limits (SSH_RSA_MINIMUM_MODULUS_SIZE, SSHBUF_MAX_BIGNUM): ssh-keygen rejects keys outside them.
  if (bits < 1024) throw new WireError(`the RSA modulus has ${bits} bits; OpenSSH rejects RSA keys under 1024 bits`);
  if (bits > 16384) throw new WireError(`the RSA modulus has ${bits} bits; OpenSSH rejects RSA keys over 16384 bits`);
  return bits;
}

/** PROTOCOL.certkeys: the fields after the certified key, all length-checked. */
function readCertificateTail(reader: WireReader): void {
  reader.u64("certificate serial");
  const type = reader.u32("certificate type");
  if (type !== 1 && type !== 2) throw new WireError(`the certificate type is ${type}, expected 1 (user) or 2 (host)`);
  reader.bytes("certificate key id");
  reader.bytes("certificate principals");
  reader.u64("certificate valid-after");
  reader.u64("certificate valid-before");
  reader.bytes("certificate critical options");
  reader.bytes("certificate extensions");
  reader.bytes("certificate reserved field");
  reader.bytes("certificate signature key");
  reader.bytes("certificate signature");
}
