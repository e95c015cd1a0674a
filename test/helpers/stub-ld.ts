/**
 * A stand-in for NixOS's stub loader (nixpkgs nixos/modules/config/stub-ld.nix):
 * NixOS puts it at /lib64/ld-linux-x86-64.so.2, so a generic-Linux binary
 * (ELF interpreter /lib64/ld-linux-x86-64.so.2, as `bun build --compile`
 * makes) gets it as its loader, and it prints "Could not start dynamically
 * linked executable" and NixOS's message on stderr and exits 127.
 *
 * The real one is a static C program; this is the same behaviour as a
 * hand-assembled static x86-64 ELF (position-independent, one PT_LOAD: the
 * kernel maps it as an interpreter at a base of its choosing), so tests need
 * no compiler. Used with a mount namespace: bind a directory holding it over
 * /lib64 (see stubLoaderDir) — after that, every binary of this Debian host
 * that starts through /lib64 fails like a generic binary on NixOS.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** What the stub prints (stub-ld.nix: the first line, then its `message`). */
export const STUB_MESSAGE =
  "Could not start dynamically linked executable\n" +
  "NixOS cannot run dynamically linked executables intended for generic\n" +
  "linux environments out of the box. For more information, see:\n" +
  "https://nix.dev/permalink/stub-ld\n";

/** The stub's exit status (stub-ld.nix: 127, "matches behavior of bash and zsh without a loader"). */
export const STUB_EXIT = 127;

/** The stub as ELF bytes: write(2, message), exit_group(127). */
export function stubLoaderElf(): Uint8Array {
  const message = new TextEncoder().encode(STUB_MESSAGE);
  const codeAt = 64 + 56; // ELF header + one program header
  const code = [
    0x48, 0x8d, 0x35, 29, 0, 0, 0, // lea rsi, [rip + 29] (the message, after the 36 code bytes)
    0xbf, 2, 0, 0, 0, // mov edi, 2 (stderr)
    0xba, ...le32(message.length), // mov edx, length
    0xb8, 1, 0, 0, 0, // mov eax, 1 (write)
    0x0f, 0x05, // syscall
    0xbf, STUB_EXIT, 0, 0, 0, // mov edi, 127
    0xb8, 231, 0, 0, 0, // mov eax, 231 (exit_group)
    0x0f, 0x05, // syscall
  ];
  const size = codeAt + code.length + message.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // \x7fELF, 64-bit, little-endian, version 1, System V
  view.setUint16(16, 3, true); // e_type ET_DYN
  view.setUint16(18, 62, true); // e_machine x86-64
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, BigInt(codeAt), true); // e_entry (relative to the load base)
  view.setBigUint64(32, 64n, true); // e_phoff
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  // PT_LOAD of the whole file at offset 0, readable and executable.
  view.setUint32(64, 1, true); // p_type
  view.setUint32(68, 5, true); // p_flags R+X
  view.setBigUint64(72, 0n, true); // p_offset
  view.setBigUint64(80, 0n, true); // p_vaddr
  view.setBigUint64(88, 0n, true); // p_paddr
  view.setBigUint64(96, BigInt(size), true); // p_filesz
  view.setBigUint64(104, BigInt(size), true); // p_memsz
  view.setBigUint64(112, 0x1000n, true); // p_align
  out.set(code, codeAt);
  out.set(message, codeAt + code.length);
  return out;
}

/** A new directory holding the stub as ld-linux-x86-64.so.2: bind it over /lib64 in a mount namespace. */
export function stubLoaderDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "flk-stub-ld-"));
  chmodSync(dir, 0o755);
  const file = join(dir, "ld-linux-x86-64.so.2");
  writeFileSync(file, stubLoaderElf());
  chmodSync(file, 0o755);
  return dir;
}

function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >> 24) & 0xff];
}
