/**
 * /proc/PID/mountinfo (proc(5)), parsed once for every plugin: the disk
 * judge (mounted anywhere?), the installer's preflight (what is mounted
 * where, overlay upperdir) and its remote probe (the same lines over ssh).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

/** One mount, the fields flk reads. */
export interface MountEntry {
  /** `major:minor` of the filesystem (anonymous `0:N` for btrfs, overlay, tmpfs). */
  majmin: string;
  /** The directory of that filesystem mounted here: `/` for a whole filesystem, `/srv/site/.st` for a bind of it. */
  root?: string;
  mountpoint: string;
  fstype: string;
  /** The mount source, e.g. `/dev/sdb1`, `overlay`, `tmpfs`. */
  source: string;
  /** Superblock options, e.g. `upperdir=…` for overlayfs. */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
export function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * One mountinfo line: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…]
 * - FSTYPE SOURCE SUPEROPTS`; the optional fields end at the lone `-`.
 * Undefined for anything else (a shell's noise over ssh, a cut line).
 */
export function parseMountinfoLine(line: string): MountEntry | undefined {
  const fields = line.split(" ");
  const dash = fields.indexOf("-", 6);
  if (fields.length < 10 || dash < 0 || dash + 3 > fields.length) return undefined;
  const majmin = fields[2]!;
  if (!/^\d+:\d+$/.test(majmin) || !fields[4]!.startsWith("/")) return undefined;
  return {
    majmin,
    root: unescapeMount(fields[3]!),
    mountpoint: unescapeMount(fields[4]!),
    fstype: fields[dash + 1]!,
    source: unescapeMount(fields[dash + 2]!),
    superOptions: fields.slice(dash + 3).join(" "),
  };
}

/** Every well-formed line of a mountinfo text. */
export function parseMountinfo(text: string): MountEntry[] {
  return text.split("\n").map(parseMountinfoLine).filter((m): m is MountEntry => m !== undefined);
}

/** The mounts of this process's mount namespace (or of a recorded file). */
export function readMountinfo(path = "/proc/self/mountinfo"): MountEntry[] {
  try {
    return parseMountinfo(readFileSync(path, "utf8"));
  } catch {
    return [];
  }
}

/**
 * The mounts of every mount namespace this process can see: one
 * /proc/PID/mountinfo per distinct /proc/PID/ns/mnt (a container's or a
 * `unshare -m` shell's mounts are not in ours, and writing under them
 * destroys them all the same). Processes that vanish meanwhile are skipped.
 */
export function readAllMountinfo(proc = "/proc"): MountEntry[] {
  const out = readMountinfo(join(proc, "self", "mountinfo"));
  const seen = new Set<bigint>();
  try {
    seen.add(statSync(join(proc, "self", "ns", "mnt"), { bigint: true }).ino);
  } catch {
    // no namespace files (a recorded tree): only self
  }
  let pids: string[] = [];
  try {
    pids = readdirSync(proc).filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let ns: bigint;
    try {
      ns = statSync(join(proc, pid, "ns", "mnt"), { bigint: true }).ino;
    } catch {
      continue;
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    out.push(...readMountinfo(join(proc, pid, "mountinfo")));
  }
  return out;
}

/** Whether `path` is `dir` or below it (absolute, normalized paths). */
function under(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}

/** Where a real path lives: its filesystem (`majmin`) and its path inside that filesystem, seen through bind mounts. */
export interface FsLocation {
  majmin: string;
  path: string;
}

/**
 * The filesystem location of `real` (a realpath, or an existing realpath
 * with a not-yet-created rest appended): the mount it is under (the last
 * one listed at the longest mount point, the one on top) and the path from
 * that filesystem's root. A bind mount of `/srv/site/.st` at `/tmp/x` makes
 * `/tmp/x/flk` and `/srv/site/.st/flk` one location.
 */
export function fsLocation(real: string, mounts: readonly MountEntry[]): FsLocation | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) if (under(real, m.mountpoint) && (!best || m.mountpoint.length >= best.mountpoint.length)) best = m;
  if (!best) return undefined;
  return { majmin: best.majmin, path: join(best.root ?? "/", relative(best.mountpoint, real)) };
}

/**
 * Whether `path` can be reached from inside the directory `dir` (both real
 * paths), whatever bind mounts say: `path` is `dir`'s filesystem location
 * or below it (a bind of a directory of `dir` mounted elsewhere), or some
 * mount below `dir` shows a directory that holds `path` (a bind of `path`'s
 * parent mounted inside `dir`). Comparing realpaths sees neither.
 */
export function reachableWithin(path: string, dir: string, mounts: readonly MountEntry[] = readMountinfo()): boolean {
  const target = fsLocation(path, mounts);
  const inside = fsLocation(dir, mounts);
  if (!target || !inside) return false;
  if (target.majmin === inside.majmin && under(target.path, inside.path)) return true;
  return mounts.some((m) => under(m.mountpoint, dir) && m.majmin === target.majmin && under(target.path, m.root ?? "/"));
}
