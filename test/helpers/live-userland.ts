/**
 * The live installer's userland, made NixOS-like on this Debian machine
 * (used by live-installer.ts): NixOS's stub sits at
 * /lib64/ld-linux-x86-64.so.2 (nixpkgs nixos/modules/config/stub-ld.nix),
 * so a generic-Linux binary — dist/flk started directly — fails there with
 * exit 127, while NixOS's own programs start because their ELF interpreter
 * is the store glibc's loader, not /lib64's.
 *
 * Here: copies of this machine's /usr/bin and /usr/sbin programs whose
 * PT_INTERP "/lib64/ld-linux-x86-64.so.2" is rewritten in place to
 * "/ld.so" (NUL-padded to the same length; the kernel reads the string up
 * to its NUL), and /ld.so in the live root links to the real loader. The
 * live root lays them over /usr/bin and /usr/sbin (overlayfs, read-only)
 * and binds the stub over /lib64. Programs over 8 MiB (node, gdb, …) are
 * left as they are: under the stub they fail like any generic binary.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stubLoaderElf } from "./stub-ld.ts";

/** The interpreter every Debian x86-64 program names. */
const LIB64_LOADER = Buffer.from("/lib64/ld-linux-x86-64.so.2\0");
/** What the copies name instead: a link in the live root to the real loader. */
export const LIVE_LOADER = "/ld.so";
const MAX_COPY = 8 << 20;

/** Directories to lay over the live root's /usr/bin, /usr/sbin and /lib64. */
export interface Userland {
  bin: string;
  sbin: string;
  /** Holds only the stub, as ld-linux-x86-64.so.2. */
  lib64: string;
}

/** Write the re-pointed copies and the stub under `dir`; returns where they are. */
export function prepareUserland(dir: string): Userland {
  const land: Userland = { bin: join(dir, "bin"), sbin: join(dir, "sbin"), lib64: join(dir, "lib64") };
  const replacement = Buffer.alloc(LIB64_LOADER.length);
  replacement.write(LIVE_LOADER);
  for (const [from, to] of [["/usr/bin", land.bin], ["/usr/sbin", land.sbin]] as const) {
    mkdirSync(to, { recursive: true });
    for (const name of readdirSync(from)) repoint(join(from, name), join(to, name), replacement);
  }
  mkdirSync(land.lib64, { recursive: true, mode: 0o755 });
  writeFileSync(join(land.lib64, "ld-linux-x86-64.so.2"), stubLoaderElf(), { mode: 0o755 });
  return land;
}

/** Copy `from` to `to` with its interpreter re-pointed, when it is a program that names /lib64's loader. */
function repoint(from: string, to: string, replacement: Buffer): void {
  let stat;
  try {
    stat = statSync(from);
  } catch {
    return;
  }
  if (!stat.isFile() || stat.size > MAX_COPY || (stat.mode & 0o111) === 0) return;
  const bytes = readFileSync(from);
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return;
  // PT_INTERP is in the first page (right after the program headers).
  const at = bytes.subarray(0, 4096).indexOf(LIB64_LOADER);
  if (at < 0) return;
  replacement.copy(bytes, at);
  writeFileSync(to, bytes);
  // Keep setuid (sudo): the owner is root, as the original's.
  chmodSync(to, stat.mode & 0o7777);
}
