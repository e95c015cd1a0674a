/**
 * Fuzzing the public-key line parser (plugins/ssh-keys) with mutated real
 * lines: text edits, blob edits (re-encoded so the wire reader is reached),
 * NULs, control characters, options and over-long lines. For every line:
 *   - parseKeyLine returns or throws KeyLineError, nothing else (crash);
 *   - it takes at most HANG_MS (hang);
 *   - what it accepts holds no NUL, fits in 16 KiB, parses again to the same
 *     key as flk stores it, and — checked in one batch at the end —
 *     `ssh-keygen -lf` reads with the same bits and fingerprint
 *     (accepted-invalid).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyLineError, MAX_LINE_BYTES, formatKeyLine, parseKeyLine, type PublicKey } from "../../plugins/ssh-keys/keys.ts";
import { Findings, type FuzzReport, type Rng } from "./rng.ts";

/** A line that takes longer than this is a hang (seconds, where a GC pause on a loaded machine is ~100 ms). */
export const HANG_MS = 1000;

const SEEDS = join(import.meta.dir, "../../test/plugins/ssh-keys/fixtures/fuzz-seeds.pub");

function seeds(): string[] {
  const lines = readFileSync(SEEDS, "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
  return [...lines, `no-pty,command="echo \\"a b\\"",from="10.0.0.0/8" ${lines[0]}`, `restrict,port-forwarding ${lines[1]} ops@bastion`];
}

const ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\",\\@-.#!", "\0", "\x1b", "\r", "\u202e", "é"];

function mutate(line: string, r: Rng): string {
  const at = r.int(line.length);
  switch (r.int(9)) {
    case 0: return line.slice(0, at) + r.pick(ALPHABET) + line.slice(at + 1);
    case 1: return line.slice(0, at) + line.slice(at + 1 + r.int(4));
    case 2: return line.slice(0, at) + r.pick(ALPHABET) + line.slice(at);
    case 3: return line.slice(0, at);
    case 4: return `${line} ${"x".repeat(Math.max(0, r.pick([100, MAX_LINE_BYTES - line.length - 1, MAX_LINE_BYTES - line.length, MAX_LINE_BYTES])))}`;
    case 5: return `${r.pick(["command=\"x\"", "environment=\"A=b\"", "cert-authority", "no-such", "pty=\"1\"", "from=\"*\",", "tunnel=\"0\"", "\""])} ${line}`;
    default: return mutateBlob(line, r);
  }
}

/** One blob-level edit, re-encoded so the wire parser is reached: a flipped byte, a cut, a byte added, or a length field set to an edge value. */
export function mutateBlob(line: string, r: Rng): string {
  const parts = line.split(" ");
  const index = parts.findIndex((p) => p.startsWith("AAAA"));
  if (index < 0) return line;
  const blob = Buffer.from(parts[index]!, "base64");
  const at = r.int(blob.length);
  let out: Buffer;
  const choice = r.int(4);
  if (choice === 0) { out = Buffer.from(blob); out[at] = r.int(256); }
  else if (choice === 1) out = blob.subarray(0, at);
  else if (choice === 2) out = Buffer.concat([blob, Buffer.from([r.int(256)])]);
  else if (blob.length < 4) out = blob;
  else { out = Buffer.from(blob); out.writeUInt32BE(r.pick([0, 1, 0x7fffffff, 0xffffffff, blob.length]), Math.min(at, blob.length - 4)); }
  parts[index] = out.toString("base64");
  return parts.join(" ");
}

/** Fuzz `count` lines from `r`; stops early (with a finding) past `budgetMs`. */
export function fuzzKeys(count: number, r: Rng, budgetMs: number): FuzzReport {
  const report: FuzzReport = { target: "keys", inputs: 0, accepted: 0, slowestMs: 0, elapsedMs: 0, findings: [] };
  const pool = seeds();
  const accepted: Array<{ line: string; key: PublicKey }> = [];
  const started = performance.now();
  // Counted in lines parsed: a mutant that became blank or a # comment is not one.
  const found = new Findings();
  for (let i = 0; report.inputs < count && !found.full; i++) {
    if ((i & 0x3ff) === 0 && performance.now() - started > budgetMs) {
      found.add(`time budget of ${budgetMs} ms spent`, `after ${report.inputs} lines`);
      break;
    }
    let line = r.pick(pool);
    for (let edits = 1 + r.int(3); edits > 0; edits--) line = mutate(line, r);
    line = line.replace(/^[ \t]+|[ \t]+$/g, "");
    if (line === "" || line.startsWith("#")) continue;
    report.inputs++;
    const t0 = performance.now();
    let key: PublicKey | undefined;
    try {
      key = parseKeyLine(line);
    } catch (error) {
      if (!(error instanceof KeyLineError)) found.add(`parseKeyLine threw ${String(error)}`, JSON.stringify(line));
    }
    const took = performance.now() - t0;
    report.slowestMs = Math.max(report.slowestMs, took);
    if (took > HANG_MS) found.add(`over ${HANG_MS} ms for one line (hang)`, `${took.toFixed(0)} ms: ${JSON.stringify(line.slice(0, 200))}`);
    if (!key) continue;
    report.accepted++;
    if (line.includes("\0")) found.add("accepted a line holding a NUL", JSON.stringify(line));
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) found.add(`accepted a line over ${MAX_LINE_BYTES} bytes`, `${Buffer.byteLength(line)} bytes`);
    const again = parseKeyLine(formatKeyLine(key));
    if (again.fingerprint !== key.fingerprint || again.options !== key.options || again.comment !== key.comment) found.add("stored form parses differently", JSON.stringify(line));
    if (!key.certificate) accepted.push({ line, key });
  }
  report.findings = [...found.list(), ...checkWithSshKeygen(accepted)];
  report.elapsedMs = performance.now() - started;
  return report;
}

/**
 * ssh-keygen -lf on every accepted plain key (as flk stores it, comment
 * dropped: ssh-keygen's comment column is not what is compared) must print
 * the same bits and fingerprint, in order. Certificates are left out:
 * ssh-keygen also checks their signatures, which flk does not need to.
 */
function checkWithSshKeygen(accepted: Array<{ line: string; key: PublicKey }>): string[] {
  if (accepted.length === 0) return [];
  if (!Bun.which("ssh-keygen")) return ["ssh-keygen is not on PATH: the accepted lines were not checked against it"];
  const dir = mkdtempSync(join(tmpdir(), "flk-fuzz-"));
  try {
    const file = join(dir, "accepted.pub");
    writeFileSync(file, accepted.map(({ key }) => `${key.type} ${key.base64}`).join("\n") + "\n");
    const ran = Bun.spawnSync(["ssh-keygen", "-lf", file]);
    const theirs = ran.stdout.toString().split("\n").filter(Boolean).map((l) => l.split(" ").slice(0, 2).join(" "));
    const findings: string[] = [];
    accepted.forEach(({ line, key }, i) => {
      if (theirs[i] !== `${key.bits} ${key.fingerprint}` && findings.length < 20)
        findings.push(`flk accepts a line ssh-keygen reads differently (${theirs[i] ?? "refused"} vs ${key.bits} ${key.fingerprint}): ${JSON.stringify(line.slice(0, 300))}`);
    });
    return findings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
