/**
 * bench/ssh: `flk ssh NixOS -- true` (the compiled binary, mdns and
 * ipv6-lla on) to a live installer whose mDNS is silent and whose sshd
 * answers only on fe80::47 — then only on its EUI-64 address — against the
 * peer: plain `ssh root@ADDRESS%IF true` to the address already known.
 * Two network namespaces on a veth pair, a real sshd; cases alternate
 * A B A B in one run. Set FLK_BEFORE to another flk binary (e.g. one built
 * from an older commit) to time it in the same rounds.
 * Needs root (namespaces), ip, sshd, ssh, ssh-keygen.
 *
 *   BENCH_ROUNDS=7 FLK_BEFORE=/path/to/old/flk bun bench/ssh.ts
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alternate, median, table } from "./lib.ts";
import { createLink, linkLocal, type Namespace } from "../test/helpers/netns.ts";
import { startSshd } from "../test/helpers/sshd.ts";
import { mustSync } from "../test/helpers/sh.ts";

const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
const BEFORE = process.env.FLK_BEFORE;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/** A site with hosts/NixOS.nix; the stick is not pinned here (the bench times finding it, not the key check). */
function makeSite(dir: string): string {
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
  writeFileSync(join(site, "flk.toml"), 'plugins = ["mdns", "ipv6-lla", "ssh-keys"]\n\n[ssh-keys]\npinHostKey = false\n');
  return site;
}

async function timed(ns: Namespace, argv: string[], env: Record<string, string> = {}): Promise<number> {
  const start = performance.now();
  const r = await ns.exec(argv, { env: { NO_COLOR: "1", ...env } });
  const ms = performance.now() - start;
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.slice(-800)}`);
  return ms;
}

/** Run the benchmark and print its tables; returns the medians (ms). */
export async function main(): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) throw new Error("bench/ssh needs root (network namespaces)");
  if (!existsSync(FLK)) throw new Error(`${FLK} is missing: build it (npm run build) or set FLK_BIN`);
  const dir = mkdtempSync(join(tmpdir(), "flk-bench-ssh-"));
  const link = await createLink();
  const medians: Record<string, number> = {};
  try {
    const site = makeSite(dir);
    mustSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host")]);
    mustSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "user")]);
    await Promise.all([linkLocal(link.a), linkLocal(link.b)]);
    const iface = link.b.iface;
    const sshOpts = ["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-i", join(dir, "user")];
    const flkSsh = (bin: string, host = "NixOS") => [bin, "--site", site, "ssh", host, "--user", "root", "--", ...sshOpts, "true"];
    // A stand-in `ssh` first on PATH that exits at once: flk's time until it hands the terminal to ssh
    // with the destination, i.e. how long finding the installer took (real ssh's own handshake is timed below).
    const fake = join(dir, "fake-bin");
    mkdirSync(fake);
    writeFileSync(join(fake, "ssh"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const handOver = { PATH: `${fake}:${process.env.PATH}` };
    for (const where of ["fe80::47", "EUI-64"] as const) {
      const sshd = await startSshd(link.a, {
        hostKey: join(dir, "host"),
        authorizedKeys: readFileSync(join(dir, "user.pub"), "utf8"),
        ...(where === "fe80::47" ? { address: "fe80::47" } : {}),
      });
      try {
        const found: Record<string, () => Promise<number>> = {
          [`flk ssh NixOS until ssh starts (mDNS silent, sshd only on ${where})`]: () => timed(link.b, flkSsh(FLK), handOver),
          ...(BEFORE ? { [`the same, before (${BEFORE})`]: () => timed(link.b, flkSsh(BEFORE), handOver) } : {}),
          [`flk ssh ADDRESS%IF until ssh starts (address given: nothing to find)`]: () => timed(link.b, flkSsh(FLK, `${sshd.address}%${iface}`), handOver),
        };
        const foundSamples = await alternate(found, ROUNDS, 1);
        console.log(table(`time to find the installer: sshd on ${where}, mDNS silent`, foundSamples, Object.keys(found).at(-1)!) + "\n");
        for (const [name, values] of Object.entries(foundSamples)) medians[name] = median(values);
        const cases: Record<string, () => Promise<number>> = {
          [`flk ssh NixOS (mDNS silent, sshd only on ${where})`]: () => timed(link.b, flkSsh(FLK)),
          ...(BEFORE ? { [`flk ssh NixOS, before (${BEFORE})`]: () => timed(link.b, flkSsh(BEFORE)) } : {}),
          [`ssh root@${where === "fe80::47" ? "fe80::47" : "EUI64"}%IF (address known)`]: () => timed(link.b, ["ssh", ...sshOpts, `root@${sshd.address}%${iface}`, "true"]),
        };
        const samples = await alternate(cases, ROUNDS, 1);
        const peer = Object.keys(cases).at(-1)!;
        console.log(table(`login and \`true\` with real ssh: sshd on ${where}, mDNS silent`, samples, peer) + "\n");
        for (const [name, values] of Object.entries(samples)) medians[name] = median(values);
      } finally {
        await sshd.stop();
        if (where === "fe80::47") await link.a.exec(["ip", "-6", "addr", "del", "fe80::47/64", "dev", link.a.iface]);
      }
    }
  } finally {
    await link.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  return medians;
}

if (import.meta.main) await main();
