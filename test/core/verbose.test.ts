/**
 * `flk --verbose` shows every external command flk runs (core/exec.ts's
 * trace), also the children a plugin drives itself: the ssh session, the
 * decompressor `flk write` feeds, the `git ls-files` of the stale-result
 * check. Through dist/flk, as a user types it.
 */
import { afterAll, expect } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";
import { must } from "../helpers/sh.ts";

const dir = mkdtempSync(join(tmpdir(), "flk-verbose-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The `[exec] $ …` lines of a run. */
function traced(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.includes("[exec] $ ")).map((l) => l.slice(l.indexOf("$ ") + 2));
}

/** A 64 KiB image with the ISO 9660 signature at 0x8001 (so it is an image, not a random file). */
function isoImage(path: string): Uint8Array {
  const bytes = new Uint8Array(64 * 1024);
  bytes.set(new TextEncoder().encode("CD001"), 0x8001);
  writeFileSync(path, bytes);
  return bytes;
}

systemTest(["ssh"], { root: false })("flk --verbose ssh ADDRESS shows the ssh command it runs", async () => {
  // Port 1 on loopback refuses at once: ssh runs, fails, nothing is written (HOME is ours).
  const home = join(dir, "home");
  mkdirSync(home);
  // An address alone is flk ssh'ed only where nothing is pinned (pinHostKey = false).
  const site = join(dir, "unpinned-site");
  mkdirSync(site);
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(site, "flk.toml"), "[ssh-keys]\npinHostKey = false\n");
  const r = await flk(["--verbose", "ssh", "127.0.0.1", "-p", "1", "--", "true"], { cwd: site, env: { HOME: home } });
  expect(r.code).toBe(255);
  expect(traced(r.stderr)).toContain("ssh -p 1 -- nixos@127.0.0.1 true");
  expect(existsSync(join(home, ".ssh", "known_hosts"))).toBe(false);
});

systemTest(["zstd"], { root: false })("flk --verbose write IMAGE.zst FILE shows the decompressor it feeds", async () => {
  const bytes = isoImage(join(dir, "img.iso"));
  await must(["zstd", "-q", join(dir, "img.iso"), "-o", join(dir, "img.iso.zst")]);
  const out = join(dir, "out.img");
  const r = await flk(["--verbose", "write", join(dir, "img.iso.zst"), out], { cwd: dir });
  expect(r.code).toBe(0);
  expect(traced(r.stderr)).toContain("zstd -dc");
  expect(Buffer.compare(readFileSync(out), Buffer.from(bytes))).toBe(0);
});

systemTest(["git"], { root: false })("flk --verbose write with an image from result/ shows the git ls-files of the stale check", async () => {
  const site = join(dir, "site");
  mkdirSync(join(site, "built", "iso"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  isoImage(join(site, "built", "iso", "NixOS.iso"));
  symlinkSync(join(site, "built"), join(site, "result"));
  await must(["git", "-C", site, "init", "-q"]);
  await must(["git", "-C", site, "add", "flake.nix"]);
  // The link is older than flake.nix: the image is stale, and without a terminal that is a refusal.
  await must(["touch", "-h", "-d", "@1000000000", join(site, "result")]);
  const r = await flk(["--verbose", "write", "/dev/null"], { cwd: site });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("is stale");
  expect(traced(r.stderr)).toContain(`git -C ${site} ls-files -z`);
});
