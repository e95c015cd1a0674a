/**
 * Test machinery for the installer: labelled filesystems on loop devices
 * (one loop device each: partition nodes do not appear without udev), a
 * site flake, a recording stand-in for nixos-install (not packaged for
 * Debian), and an in-process flk. Cleanup only ever touches what it made:
 * mounts under its own temp root, swap on its own loop devices.
 */
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { createFlk, type Flk } from "../../../core/context.ts";
import { resolveConfig } from "../../../core/config.ts";
import { PluginRegistry, type FlkPlugin } from "../../../core/plugin.ts";
import installer from "../../../plugins/installer/index.ts";
import { testFlk } from "../../helpers/flk.ts";
import { SBIN_PATH, must as sharedMust, sh as sharedSh, type Ran } from "../../helpers/sh.ts";

export { SBIN_PATH } from "../../helpers/sh.ts";

/** Run argv, capture output (test/helpers/sh.ts). */
export function sh(argv: string[], input?: string): Promise<Ran> {
  return sharedSh(argv, { input });
}

/** Run argv; its stdout trimmed, or an error with its stderr (test/helpers/sh.ts). */
async function must(argv: string[]): Promise<string> {
  return (await sharedMust(argv)).trim();
}

/** One recorded call of the stand-in nixos-install. */
export interface Call {
  cwd: string;
  argv: string[];
  /** `findmnt -rn -o TARGET,SOURCE` lines under the machine's dir at the time of the call. */
  mounts: string[];
  /** Superblock options of an overlay on /nix/store at the time of the call, "" if none. */
  storeOverlay: string;
}

/** A throwaway "machine": temp dir with root mount point, site, stand-in, loop devices. */
export interface Machine {
  dir: string;
  root: string;
  site: string;
  /** Directory holding the stand-in `nixos-install`; put it first on PATH. */
  bin: string;
  /** Random per-machine labels, so parallel runs never see each other's filesystems. */
  labels: { root: string; boot: string; swap: string };
  devices: string[];
  /** Make a filesystem on a new loop device; returns the device. */
  disk(kind: "ext4" | "swap", label: string): Promise<string>;
  calls(): Call[];
  /** The next stand-in call exits with this code. */
  failNextInstall(code: number): void;
  /** Mounts under `dir` right now (target paths). */
  mounted(): Promise<string[]>;
  /** Our loop devices now in use as swap. */
  swapping(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** A fresh machine; `hosts` are the flake's nixosConfigurations (each also gets hosts/NAME.nix unless `hostFiles` is false). */
export async function createMachine(options: { hosts?: string[]; hostFiles?: boolean } = {}): Promise<Machine> {
  const dir = mkdtempSync(join(tmpdir(), "flk-inst-"));
  const tag = randomBytes(3).toString("hex");
  const labels = { root: `fr${tag}`, boot: `fb${tag}`, swap: `fs${tag}` };
  const [root, site, bin] = [join(dir, "root"), join(dir, "site"), join(dir, "bin")];
  writeSite(site, options.hosts ?? ["NixOS"], options.hostFiles ?? true);
  writeStandIn(bin, dir);
  const devices: string[] = [];
  const machine: Machine = {
    dir, root, site, bin, labels, devices,
    async disk(kind, label) {
      const image = join(dir, `disk${devices.length}.img`);
      writeFileSync(image, "");
      await must(["truncate", "-s", kind === "swap" ? "8M" : "24M", image]);
      const device = await must(["losetup", "-f", "--show", image]);
      devices.push(device);
      // On this kernel partitions added with partx outlive a detach; stale ones on a reused loop number hide its filesystem from blkid.
      await sh(["partx", "-d", device]);
      await must(kind === "swap" ? ["mkswap", "-L", label, device] : ["mkfs.ext4", "-q", "-F", "-L", label, device]);
      return device;
    },
    calls: () => readCalls(join(dir, "calls")),
    failNextInstall: (code) => writeFileSync(join(dir, "exit-code"), String(code)),
    async mounted() {
      const r = await sh(["findmnt", "-rn", "-o", "TARGET"]);
      // findmnt -r writes a space in a path as \x20.
      const targets = r.stdout.split("\n").map((t) => t.replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))));
      return targets.filter((t) => t === dir || t.startsWith(dir + "/"));
    },
    async swapping() {
      // By device name: a swapon made inside a mount namespace that has since gone shows as `/loop6`, not `/dev/loop6`.
      const swaps = readFileSync("/proc/swaps", "utf8").split("\n").slice(1).map((l) => basename(l.split(/\s+/)[0] ?? ""));
      return devices.filter((d) => swaps.includes(basename(d)));
    },
    async cleanup() {
      for (const target of (await machine.mounted()).sort((a, b) => b.length - a.length)) await sh(["umount", "-l", target]);
      for (const device of await machine.swapping()) await sh(["swapoff", device]);
      for (const device of devices) await sh(["losetup", "-d", device]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return machine;
}

function writeSite(site: string, hosts: string[], hostFiles: boolean): void {
  mkdirSync(join(site, "hosts"), { recursive: true });
  // A flake with no inputs: `nix eval` needs no network.
  const configs = hosts.map((h) => `${JSON.stringify(h)} = { };`).join(" ");
  writeFileSync(join(site, "flake.nix"), `{ outputs = _: { nixosConfigurations = { ${configs} }; }; }\n`);
  writeFileSync(join(site, "hosts", "default.nix"), "{ }\n");
  if (hostFiles) for (const host of hosts) writeFileSync(join(site, "hosts", `${host}.nix`), "{ }\n");
}

/** The stand-in: records cwd, argv and what is mounted (NUL-separated), exits as told. */
function writeStandIn(bin: string, dir: string): void {
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
# stand-in nixos-install for tests: records, installs nothing
echo "stand-in nixos-install: $*"
mounts=$(findmnt -rn -o TARGET,SOURCE | grep -F '${dir}' | tr '\\n' ';')
overlay=$(findmnt -rn -M /nix/store -t overlay -o FS-OPTIONS | tr '\\n' ';')
printf '%s\\0' call "$PWD" "$mounts" "$overlay" "$#" "$@" >> '${dir}/calls'
if [ -f '${dir}/exit-code' ]; then code=$(cat '${dir}/exit-code'); rm -f '${dir}/exit-code'; exit "$code"; fi
exit 0
`;
  writeFileSync(join(bin, "nixos-install"), script);
  chmodSync(join(bin, "nixos-install"), 0o755);
  // stand-in nixos-generate-config: records its arguments and what is mounted, prints a small hardware configuration.
  const generate = `#!/bin/sh
# stand-in nixos-generate-config for tests: prints a fixed configuration naming its --root
printf '%s\\n' "$@" > '${dir}/generate-config.args'
findmnt -rn -o TARGET,SOURCE | grep -F '${dir}' > '${dir}/generate-config.mounts'
root=; while [ $# -gt 0 ]; do [ "$1" = --root ] && root=$2; shift; done
echo "# stand-in hardware configuration (flk test), root $root"
echo '{ config, lib, ... }:'
echo '{ fileSystems."/" = { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; }; }'
`;
  writeFileSync(join(bin, "nixos-generate-config"), generate);
  chmodSync(join(bin, "nixos-generate-config"), 0o755);
}

function readCalls(file: string): Call[] {
  if (!existsSync(file)) return [];
  const fields = readFileSync(file, "utf8").split("\0");
  const calls: Call[] = [];
  for (let i = 0; fields[i] === "call"; ) {
    const [cwd, mounts, overlay, count] = [fields[i + 1]!, fields[i + 2]!, fields[i + 3]!, Number(fields[i + 4])];
    calls.push({ cwd, argv: fields.slice(i + 5, i + 5 + count), mounts: mounts.split(";").filter(Boolean), storeOverlay: overlay.replace(/;$/, "") });
    i += 5 + count;
  }
  return calls;
}

/** An in-process flk for `machine` with its root and labels, plus extra plugins (e.g. test taps). */
export function machineFlk(machine: Machine, extra: FlkPlugin<any>[] = [], overrides: Record<string, unknown> = {}, cwd = machine.site): Flk {
  return testFlk({ plugins: [...extra, installer], options: { installer: { root: machine.root, labels: machine.labels, ...overrides } }, cwd });
}

/** Run `fn` with `dir` first on PATH (where the stand-in nixos-install is found). */
export async function withPath<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${SBIN_PATH}`;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

/**
 * A recording stand-in `nixos-facter` in the machine's bin (nixos-facter is
 * not packaged for Debian). It mirrors nix-community/nixos-facter
 * cmd/root.go: refuses unless euid 0 ("you must run this program as root"),
 * and without `-o` prints the report, indented by two spaces
 * (json.MarshalIndent), then a newline; the report's top level is
 * pkg/facter/facter.go's Report: version (build.ReportVersion = 1), system,
 * virtualisation, uefi, hardware, smbios. It records its arguments and uid
 * in DIR/facter.calls, one line per run, and the ssh session it ran in
 * ($SSH_CONNECTION, empty when local) in DIR/facter.calls.ssh.
 */
export const FACTER_REPORT = `{
  "version": 1,
  "system": "x86_64-linux",
  "virtualisation": "kvm",
  "uefi": null,
  "hardware": {
    "cpu": [
      {
        "architecture": "x86_64",
        "vendor_name": "GenuineIntel"
      }
    ]
  },
  "smbios": {
    "bios": {
      "handle": 0,
      "vendor": "flk test stand-in",
      "version": "1.0",
      "date": "11/29/2026"
    }
  }
}
`;

/** Install the stand-in nixos-facter into `machine.bin`; returns its recorded calls (`uid args…`). */
export function writeFacterStandIn(machine: Pick<Machine, "bin" | "dir">): () => string[] {
  const calls = join(machine.dir, "facter.calls");
  const script = `#!/bin/sh
# stand-in nixos-facter for tests: prints a fixed report, scans nothing
echo "$(id -u) $*" >> '${calls}'
printf '%s\n' "\${SSH_CONNECTION:-}" > '${calls}.ssh'
[ "$(id -u)" = 0 ] || { echo 'you must run this program as root' >&2; exit 1; }
cat <<'REPORT'
${FACTER_REPORT.trimEnd()}
REPORT
`;
  writeFileSync(join(machine.bin, "nixos-facter"), script);
  chmodSync(join(machine.bin, "nixos-facter"), 0o755);
  return () => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter(Boolean) : []);
}

/**
 * Replace the machine's generated site with a git copy of the fixture site
 * (test/fixtures/site: its stand-in nixpkgs declares hardware.facter), after
 * `edit` changed it; one commit, so `git status` shows anything flk writes.
 */
export async function useFixtureSite(machine: Machine, edit: (site: string) => void = () => {}): Promise<void> {
  rmSync(machine.site, { recursive: true, force: true });
  cpSync(join(import.meta.dir, "..", "..", "fixtures", "site"), machine.site, { recursive: true });
  edit(machine.site);
  for (const args of [["init", "-q"], ["add", "-A"], ["-c", "user.name=flk test", "-c", "user.email=flk@test.invalid", "commit", "-q", "-m", "fixture site"]])
    await must(["git", "-C", machine.site, ...args]);
}

/**
 * A bare sparse loop disk of `mib` MiB in the machine's directory, with
 * random bytes at its start (so a refusal's sha256 means something). Its
 * partitions are dropped now (partx entries outlive `losetup -d`) and again
 * by the cleanup handed to `onCleanup`, before it is detached.
 */
export async function bareDisk(m: Machine, mib: number, onCleanup: (cleanup: () => Promise<void>) => void): Promise<string> {
  const image = join(m.dir, "bare.img");
  writeFileSync(image, "");
  await sh(["truncate", "-s", `${mib}M`, image]);
  const device = (await sh(["losetup", "-f", "--show", image])).stdout.trim();
  await sh(["partx", "-d", device]);
  onCleanup(async () => {
    await sh(["partx", "-d", device]);
    await sh(["losetup", "-d", device]);
  });
  await sh(["dd", "if=/dev/urandom", `of=${device}`, "bs=1M", "count=1", "conv=fsync", "status=none"]);
  return device;
}
