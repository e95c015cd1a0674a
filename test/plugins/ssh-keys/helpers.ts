/**
 * Shared fixtures of the ssh-keys tests: throwaway sites, an flk instance
 * with only this plugin, and ssh-keygen as the oracle.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { mustSync } from "../../helpers/sh.ts";
import { testFlk } from "../../helpers/flk.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { definePlugin, type Flk } from "../../../core/index.ts";
import sshKeys from "../../../plugins/ssh-keys/index.ts";
import { concatBytes, sshString } from "../../../plugins/ssh-keys/wire.ts";

/** A private state dir for one test (`XDG_STATE_HOME`), so no test writes into the real ~/.local/state/flk. */
export function makeState(): { env: Record<string, string | undefined>; dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "flk-state-"));
  return { env: { ...process.env, XDG_STATE_HOME: dir }, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A temp directory holding an empty flake.nix (a site root); `cleanup()` removes it. */
export function makeSite(): { root: string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), "flk-ssh-keys-site-"));
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Options of the ssh-keys plugin, defaults overridable. */
export interface TestOptions {
  users?: string[];
  keyFiles?: string[];
  pinHostKey?: boolean;
}

/** An flk instance for `site` with ssh-keys (and any extra test plugins) enabled, no --yes (test/helpers/flk.ts). */
export function makeFlk(site: string, options: TestOptions = {}, extra: Array<{ name: string; apply(flk: Flk): void }> = [], env?: Record<string, string | undefined>): Flk {
  const plugins = [sshKeys, ...extra.map((p) => definePlugin({ description: "test", options: {}, ...p }))];
  return testFlk({ plugins, options: { "ssh-keys": { ...options } }, cwd: site, env, flags: { yes: false } });
}

/** Run a program; its stdout, or an error with its stderr (test/helpers/sh.ts). */
export function sh(argv: string[], input?: string): string {
  return mustSync(argv, { input });
}

/** Generate a key pair with ssh-keygen; returns the private key path (public is `+ ".pub"`). */
export function keygen(dir: string, name: string, type: string, bits?: number, comment = `${name}@test`, extra: string[] = []): string {
  const file = join(dir, name);
  sh(["ssh-keygen", "-q", "-t", type, ...(bits ? ["-b", String(bits)] : []), "-N", "", "-C", comment, "-f", file, ...extra]);
  return file;
}

/** `ssh-keygen -lf FILE` output lines, or the failure. */
export function sshKeygenList(file: string): { code: number; lines: string[]; stderr: string } {
  const r = Bun.spawnSync(["ssh-keygen", "-lf", file]);
  return { code: r.exitCode, lines: r.stdout.toString().split("\n").filter(Boolean), stderr: r.stderr.toString() };
}

/** Base64 of a blob assembled from wire fields (strings as RFC 4251 strings, raw bytes as-is). */
export function blob64(...fields: Array<string | Uint8Array | { raw: Uint8Array }>): string {
  const parts = fields.map((f) => (typeof f === "object" && "raw" in f ? f.raw : sshString(f as string | Uint8Array)));
  return Buffer.from(concatBytes(...parts)).toString("base64");
}

/** The decoded blob of a public key line's second field. */
export function blobOf(line: string): Uint8Array {
  return new Uint8Array(Buffer.from(line.trim().split(/\s+/)[1]!, "base64"));
}

/** Split a blob into its RFC 4251 strings (for keys whose fields are all strings/mpints). */
export function fieldsOf(blob: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let at = 0; at < blob.length; ) {
    const length = view.getUint32(at);
    out.push(blob.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

/** Capture what a logger-using function writes to stderr/stdout while it runs. */
export async function captureOutput<T>(fn: () => Promise<T> | T): Promise<{ value?: T; error?: unknown; output: string }> {
  const chunks: string[] = [];
  const writes = [process.stdout.write, process.stderr.write];
  const grab = (chunk: unknown) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
    return true;
  };
  process.stdout.write = grab as typeof process.stdout.write;
  process.stderr.write = grab as typeof process.stderr.write;
  try {
    return { value: await fn(), output: chunks.join("") };
  } catch (error) {
    return { error, output: chunks.join("") };
  } finally {
    [process.stdout.write, process.stderr.write] = writes as [typeof process.stdout.write, typeof process.stderr.write];
  }
}
