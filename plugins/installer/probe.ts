/**
 * What the preflight needs to know about the machine being installed,
 * gathered by one read-only POSIX shell script so it runs the same here and
 * over ssh on a live installer, and parsed back into plain data the
 * preflight judges in TypeScript.
 */
import { parseMountinfoLine, unescapeMount, type MountEntry } from "../../core/index.ts";
import { shQuote } from "./script.ts";
import { parseLiveRecord, type LiveRecord } from "./live-record.ts";

/** Where the probe looks; tests point these at temporary files. */
export interface ProbePaths {
  /** sysfs firmware directory: UEFI firmware exposes `efi/` in it. */
  firmware: string;
  /** os-release file; the NixOS live installer has `VARIANT_ID=installer`. */
  osRelease: string;
  /** The Nix store the overlay covers. */
  store: string;
  /** udev's directory of label links (systemd's 60-persistent-storage.rules). */
  byLabel: string;
  /** What the stick records about itself (nix-iso writes it; DESIGN.md contract 5). */
  liveRecord: string;
}

/** The real locations. */
export const DEFAULT_PATHS: ProbePaths = { firmware: "/sys/firmware", osRelease: "/etc/os-release", store: "/nix/store", byLabel: "/dev/disk/by-label", liveRecord: "/etc/flk/live.json" };

/** One block device carrying a wanted label. */
export interface DeviceFact {
  path: string;
  /** `major:minor`, decimal, as in /proc/self/mountinfo. */
  majmin: string;
  /** Filesystem type from blkid (`ext4`, `vfat`, `swap`), "" when unknown. */
  type: string;
}

/** Everything found for one label. */
export interface LabelFact {
  label: string;
  /** The device udev's `/dev/disk/by-label/LABEL` link resolves to (realpath), when udev made one. */
  primary?: { path: string; majmin: string };
  /** Every device with this label (one uncached blkid scan: what `blkid -t LABEL=… -o device` lists). */
  devices: DeviceFact[];
}

/** One line of /proc/self/mountinfo (parsed by core/mountinfo.ts). */
export type MountFact = MountEntry;

/** What the probe saw. */
export interface Facts {
  /** udev's /dev/disk/by-label exists (absent on this CI machine: no udev). */
  byLabel: boolean;
  labels: Record<string, LabelFact>;
  uefi: boolean;
  /** VARIANT_ID from os-release, "" when absent. */
  variant: string;
  /** Path of nixos-install, "" when not on PATH. */
  nixosInstall: string;
  flake: { dir: string; present: boolean; hostFile: boolean; hosts?: string[]; evalError?: string };
  mounts: MountFact[];
  /** Devices in use as swap (/proc/swaps). */
  swaps: string[];
  /** Effective uid of the shell that ran the probe. */
  uid: number;
  /** `[installer] root` resolved on the probed machine (`realpath -m`: symlinks, `.`, `//`), "" when unknown. */
  rootReal: string;
  /** nixos-generate-config is on PATH. */
  generateConfig: boolean;
  /** nixos-facter is on PATH. */
  facter: boolean;
  /** The stick's record, when there is one (or why it cannot be used). */
  live?: LiveRecord | { error: string };
  liveRecordPath: string;
  /** The recorded toplevel exists in the probed machine's store. */
  toplevelPresent: boolean;
  /** `nix hash path` of the flake directory (SRI), "" when not computed. */
  flakeHash: string;
}

/** What to probe for. */
export interface ProbeRequest {
  /** role → label, e.g. `{ root: "nixos", boot: "boot", swap: "swap" }`. */
  labels: Record<string, string>;
  paths: ProbePaths;
  /** The flake directory on the probed machine, and the host to look for in it. */
  flakeDir: string;
  host?: string;
  /** `[installer] root`, resolved there. */
  root?: string;
  /** More read-only lines (e.g. the disk's facts for --disk). */
  extra?: string[];
}

/**
 * The probe script. Read-only: one uncached blkid scan (`-c /dev/null`: a
 * stale cache would hide a freshly made duplicate) lists every device with
 * its LABEL and TYPE, so duplicates are found the way `blkid -t LABEL=… -o
 * device` finds them, in one pass instead of one per label (measured: three
 * `-t` scans cost ~56 ms here, one ~16 ms; bench/installer.ts). Where udev
 * keeps /dev/disk/by-label, each label's link is resolved too (realpath and
 * major:minor, `-b`: only a link to a block device counts); the preflight
 * uses it and checks it against the scan. The host check is cheap first (`hosts/HOST.nix`, the devos
 * convention nix-iso lists hosts by) and falls back to `nix eval` of the
 * flake's nixosConfigurations names; the flag is added unconditionally
 * because nix ≥ 2.4 accepts it either way and the live system's nix settings
 * are not known from here.
 */
export function probeScript(request: ProbeRequest): string {
  const { firmware, osRelease } = request.paths;
  const lines = [
    "{",
    'PATH="$PATH:/usr/sbin:/sbin"',
    "export LC_ALL=C",
    "echo 'flk-probe 1'",
    "echo \"uid $(id -u)\"",
    ...(request.root ? [`echo "root-real $(realpath -m -- ${shQuote(request.root)})"`] : []),
    `[ -d ${shQuote(request.paths.byLabel)} ] && echo 'bylabel 1'`,
    ...Object.entries(request.labels).flatMap(([role, label]) => {
      const link = shQuote(`${request.paths.byLabel}/${byLabelName(label)}`);
      return [
        `echo "label "${shQuote(role)}" "${shQuote(label)}`,
        `[ -b ${link} ] && echo "primary "${shQuote(role)}" $(stat -L -c %t:%T ${link}) $(readlink -f ${link})"`,
      ];
    }),
    "blkid -c /dev/null -o export 2>/dev/null | while IFS= read -r line; do",
    '  case $line in DEVNAME=*) echo "blkid $line"; echo "blkid MAJMIN=$(stat -L -c %t:%T "${line#DEVNAME=}")";; ?*) echo "blkid $line";; esac',
    "done",
    `[ -d ${shQuote(firmware + "/efi")} ] && echo 'uefi 1'`,
    `[ -r ${shQuote(osRelease)} ] && sed -n 's/^VARIANT_ID=/variant /p' ${shQuote(osRelease)}`,
    "echo \"nixos-install $(command -v nixos-install)\"",
    "command -v nixos-generate-config >/dev/null && echo 'generate-config 1'",
    "command -v nixos-facter >/dev/null && echo 'facter 1'",
    ...flakeLines(request),
    ...liveLines(request),
    ...(request.extra ?? []),
    "sed 's/^/mount /' /proc/self/mountinfo",
    "sed -n '2,$s/^\\([^ \t]*\\).*/swap \\1/p' /proc/swaps",
    "echo 'end'",
    "}",
    "",
  ];
  return lines.join("\n");
}

/**
 * The name udev gives a label's link: blkid's ID_FS_LABEL_ENC
 * (util-linux blkid_encode_string), which keeps ASCII letters, digits,
 * `#+-.:=@_` and non-ASCII characters and writes every other byte as `\xNN`,
 * so `my data` is `/dev/disk/by-label/my\x20data`.
 */
export function byLabelName(label: string): string {
  let name = "";
  for (const char of label) {
    if (/[A-Za-z0-9#+\-.:=@_]/.test(char) || char.codePointAt(0)! > 0x7f) name += char;
    else for (const byte of new TextEncoder().encode(char)) name += `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return name;
}

/**
 * The stick's record, one line; when it is there, the recorded toplevel's
 * presence and the flake copy's NAR hash (`nix hash path`, SRI, as the
 * record holds it) for the --system/--flake decision (offline.ts).
 */
function liveLines(request: ProbeRequest): string[] {
  const record = shQuote(request.paths.liveRecord);
  return [
    `echo "live-path "${record}`,
    `if [ -r ${record} ]; then`,
    `  echo "live-record $(tr -d '\\n' < ${record})"`,
    `  top=$(sed -n 's/.*"toplevel"[[:space:]]*:[[:space:]]*"\\([^"]*\\)".*/\\1/p' ${record})`,
    '  [ -n "$top" ] && [ -e "$top" ] && echo "toplevel-present 1"',
    `  command -v nix >/dev/null && echo "flake-hash $(nix --extra-experimental-features nix-command hash path ${shQuote(request.flakeDir)} 2>/dev/null)"`,
    "fi",
  ];
}

function flakeLines(request: ProbeRequest): string[] {
  const dir = shQuote(request.flakeDir);
  const lines = [`echo "flake-dir "${dir}`, `[ -f ${dir}/flake.nix ] && echo 'flake 1'`];
  if (request.host === undefined) return lines;
  const host = request.host;
  const files = [`${request.flakeDir}/hosts/${host}.nix`, `${request.flakeDir}/hosts/${host}/default.nix`].map(shQuote);
  lines.push(
    `if [ -f ${files[0]} ] || [ -f ${files[1]} ]; then echo 'host-file 1'`,
    `elif [ -f ${dir}/flake.nix ] && command -v nix >/dev/null; then`,
    `  out=$(nix --extra-experimental-features 'nix-command flakes' eval --json ${shQuote(`path:${request.flakeDir}#nixosConfigurations`)} --apply builtins.attrNames 2>&1) && echo "hosts $out" || echo "eval-error $(printf %s "$out" | tail -n 3 | tr '\\n' ' ')"`,
    "fi",
  );
  return lines;
}

/** `7:1` from stat's hex `%t:%T`; undefined when malformed. */
function hexMajMin(text: string): string | undefined {
  const m = /^([0-9a-f]+):([0-9a-f]+)$/i.exec(text);
  return m ? `${parseInt(m[1]!, 16)}:${parseInt(m[2]!, 16)}` : undefined;
}

/**
 * Parse the probe's output. Total: a line it does not understand is
 * ignored (ssh banners, a shell's noise), so only `complete` says whether
 * the probe ran to its end.
 */
export function parseProbe(output: string, flakeDir = ""): Facts & { complete: boolean; started: boolean } {
  const facts: Facts & { complete: boolean; started: boolean } = {
    byLabel: false, labels: {}, uefi: false, variant: "", nixosInstall: "", mounts: [], swaps: [], uid: -1, rootReal: "", generateConfig: false, facter: false, liveRecordPath: "", toplevelPresent: false, flakeHash: "",
    flake: { dir: flakeDir, present: false, hostFile: false }, complete: false, started: false,
  };
  const scanned: Array<Record<string, string>> = [];
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const space = line.indexOf(" ");
    const [key, rest] = space < 0 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
    if (key === "blkid") parseBlkid(scanned, rest);
    else parseLine(facts, key, rest);
  }
  assignDevices(facts, scanned);
  return facts;
}

/** `blkid -o export`: KEY=value lines, a new device at each DEVNAME; values are backslash-escaped. */
function parseBlkid(scanned: Array<Record<string, string>>, rest: string): void {
  const eq = rest.indexOf("=");
  if (eq <= 0) return;
  const [key, value] = [rest.slice(0, eq), rest.slice(eq + 1).replace(/\\(.)/g, "$1")];
  if (key === "DEVNAME") scanned.push({ DEVNAME: value });
  else if (scanned.length > 0) scanned[scanned.length - 1]![key] = value;
}

function assignDevices(facts: Facts, scanned: Array<Record<string, string>>): void {
  for (const device of scanned) {
    const majmin = hexMajMin(device.MAJMIN ?? "");
    if (!device.DEVNAME!.startsWith("/") || !majmin || device.LABEL === undefined) continue;
    for (const fact of Object.values(facts.labels))
      if (fact.label === device.LABEL) fact.devices.push({ path: device.DEVNAME!, majmin, type: device.TYPE ?? "" });
  }
}

function parseLine(facts: Facts & { complete: boolean; started: boolean }, key: string, rest: string): void {
  const words = rest.split(" ");
  switch (key) {
    case "flk-probe": facts.started = true; break;
    case "end": facts.complete = true; break;
    case "uid": if (/^\d+$/.test(rest)) facts.uid = Number(rest); break;
    case "bylabel": facts.byLabel = true; break;
    case "root-real": if (rest.startsWith("/")) facts.rootReal = rest; break;
    case "generate-config": facts.generateConfig = true; break;
    case "facter": facts.facter = true; break;
    case "live-path": facts.liveRecordPath = rest; break;
    case "live-record":
      try {
        facts.live = parseLiveRecord(rest, facts.liveRecordPath || undefined);
      } catch (error) {
        facts.live = { error: (error as Error).message };
      }
      break;
    case "toplevel-present": facts.toplevelPresent = true; break;
    case "flake-hash": if (/^sha256-/.test(rest)) facts.flakeHash = rest.trim(); break;
    case "uefi": facts.uefi = true; break;
    case "variant": facts.variant = rest.replace(/^["']|["']$/g, ""); break;
    case "nixos-install": facts.nixosInstall = rest; break;
    case "flake-dir": facts.flake.dir = rest; break;
    case "flake": facts.flake.present = true; break;
    case "host-file": facts.flake.hostFile = true; break;
    case "hosts": facts.flake.hosts = parseHosts(rest); break;
    case "eval-error": facts.flake.evalError = rest.trim(); break;
    case "label": if (words[0] && words.length >= 2) facts.labels[words[0]] = { label: words.slice(1).join(" "), devices: [] }; break;
    case "primary": {
      const [fact, majmin, path] = [facts.labels[words[0] ?? ""], hexMajMin(words[1] ?? ""), words.slice(2).join(" ")];
      if (fact && majmin && path.startsWith("/")) fact.primary = { path, majmin };
      break;
    }
    case "mount": { const mount = parseMountinfo(rest); if (mount) facts.mounts.push(mount); break; }
    case "swap": if (rest.startsWith("/")) facts.swaps.push(unescapeMount(rest)); break;
  }
}

function parseHosts(text: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
  } catch {
    return undefined;
  }
}

/** One mountinfo line (proc(5)); the parser lives in core/mountinfo.ts. */
export const parseMountinfo = parseMountinfoLine;
