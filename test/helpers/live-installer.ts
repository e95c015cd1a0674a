/**
 * Boot a "live installer" from what is on a stick — the one set-up shared by
 * the demo (`npm run demo`, scripts/demo.ts) and the story test
 * (test/system/story.test.ts), so the two cannot drift apart.
 *
 *   const cleanups = new Cleanups();
 *   const stick = await attachLoop(join(dir, "stick.img"), bytes, cleanups);
 *   … flk write IMAGE stick …
 *   await readStick(stick, liveRoot);
 *   const live = await bootLiveInstaller({ root: liveRoot, standInBin, cleanups });
 *   … ip netns exec ${live.operator.name} dist/flk ssh NixOS …
 *   await cleanups.run();
 *
 * What the booted system is, and what of NixOS it mirrors:
 * - the ISO root read back off the stick is the live system's `/iso`
 *   (nixos/modules/installer/cd-dvd/iso-image.nix: `fileSystems."/iso"`);
 *   sshd and every login run chrooted into a live root where this machine's
 *   top-level directories are bound in, plus that `/iso` and an empty `/mnt`,
 *   inside a private mount namespace: mounts made there (the install) are
 *   invisible outside and vanish with the namespace;
 * - a network namespace joined to the operator's by a veth pair, with
 *   IPv4 link-local, the kernel's EUI-64 link-local and fe80::47;
 * - sshd with the stick's host key and the stick's authorized keys for
 *   `nixos`, on every address (the ISO's sshd listens on all);
 * - an mDNS responder announcing the stick's host name: avahi-daemon here
 *   (the ISO's systemd-resolved is not packaged on this machine);
 * - NixOS's stub loader at /lib64/ld-linux-x86-64.so.2, and this machine's
 *   programs re-pointed at a loader of their own (live-userland.ts), so the
 *   flk the stick carries must start through its wrapper, as on NixOS;
 * - a `nixos` user with passwordless sudo (installation-device.nix); the
 *   live /usr/bin shows the given stand-in nixos-install dir over
 *   everything, and the stick's packages (flk, its wrapper) under it all.
 * The fixture's image keeps what NixOS renders into the live `/etc` (sshd's
 * authorized_keys.d, networkd units) under `/flk/etc`, and the store closure
 * under `/nix-store` (the stand-in for `/iso/nix-store.squashfs`): the live
 * root has that store at `/nix/store`, as iso-image.nix mounts it; read the
 * rest through `file()`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from "node:fs";
import { basename, join } from "node:path";
import { createLink, linkLocal, type Link, type Namespace } from "./netns.ts";
import { startAvahi, type Avahi } from "./avahi.ts";
import { startSshd, type Sshd } from "./sshd.ts";
import { extractIso, livePath } from "./iso.ts";
import type { Cleanups } from "./cleanups.ts";
import { must, sh } from "./sh.ts";

/** PATH with the sbin directories (re-exported for the demo and the story test). */
export { SBIN_PATH } from "./sh.ts";
import { LIVE_LOADER, prepareUserland } from "./live-userland.ts";

/**
 * Where the flake copy is on the live system (`[nix-iso] copyTo`, and
 * `[installer] liveFlake`'s default): contents target `/devos` of the ISO
 * root, which NixOS mounts at `/iso`.
 */
export const LIVE_FLAKE = "/iso/devos";

/** The live side's IPv4 link-local address, and the operator's. */
export const LIVE_IPV4 = "169.254.47.1";
export const OPERATOR_IPV4 = "169.254.47.2";

/**
 * A loop device over a new sparse file of `bytes` (a stick, a target disk).
 * Its release swaps off and drops any partition of it, then detaches it.
 */
export async function attachLoop(file: string, bytes: number, cleanups: Cleanups): Promise<string> {
  writeFileSync(file, "");
  await must(["truncate", "-s", String(bytes), file]);
  const device = (await must(["losetup", "-f", "--show", file])).trim();
  cleanups.add(`loop device ${device}`, () => detachLoop(device));
  // Partitions added from userspace (partx, BLKPG) outlive `losetup -d`: a
  // previous user of this loop number may have left some. Ours is all zeros.
  if (partitions(device).length) await sh(["partx", "-d", device]);
  return device;
}

/** Partition names the kernel holds for `device` (`loop4p1`, …). */
function partitions(device: string): string[] {
  const name = basename(device);
  try {
    return readdirSync(`/sys/block/${name}`).filter((e) => e.startsWith(`${name}p`));
  } catch {
    return [];
  }
}

/**
 * Swap off (also swap turned on in a mount namespace that is gone), drop the
 * partitions, detach. A mount namespace whose last process was just killed
 * may still hold a partition for a moment: retry for up to 5 s, because a
 * partition left behind would outlive the loop device and trouble its next user.
 */
async function detachLoop(device: string): Promise<void> {
  const name = basename(device);
  for (let deadline = Date.now() + 5000; ; await Bun.sleep(100)) {
    // A swapon made inside a mount namespace that has since gone shows as `/loop6p3`.
    const swaps = readFileSync("/proc/swaps", "utf8").split("\n").slice(1).map((l) => basename(l.split(/\s+/)[0] ?? ""));
    for (const swap of swaps) if (swap === name || swap.startsWith(`${name}p`)) await sh(["swapoff", `/dev/${swap}`]);
    if (partitions(device).length) await sh(["partx", "-d", device]);
    if (partitions(device).length === 0 || Date.now() > deadline) break;
  }
  const r = await sh(["losetup", "-d", device]);
  if (r.code !== 0) throw new Error(`losetup -d ${device}: ${r.stderr.trim()}`);
  if (partitions(device).length) throw new Error(`${device} still has partitions ${partitions(device).join(", ")} (still mounted somewhere?)`);
}

/**
 * The live ISO's `nixos` user (installation-device.nix: wheel, passwordless
 * sudo), made on this machine and removed by the clean-up; an existing
 * `nixos` user is left as it is. No secure_path of our own: sudoers
 * Defaults are global, so two runs at once would set each other's; the
 * live root puts what a login needs in /usr/bin instead.
 */
export async function liveUser(cleanups: Cleanups): Promise<void> {
  if ((await sh(["getent", "passwd", "nixos"])).code !== 0) {
    await must(["useradd", "--create-home", "--shell", "/bin/sh", "nixos"]);
    cleanups.add("user nixos", () => sh(["userdel", "--remove", "nixos"]));
    // An unset password ("*"), not a locked account ("!"): sshd without PAM refuses locked ones.
    await must(["usermod", "-p", "*", "nixos"]);
  }
  const sudoers = `/etc/sudoers.d/flk-live-nixos-${process.pid}`;
  const rule = "nixos ALL=(ALL) NOPASSWD: ALL\n";
  cleanups.add(`sudoers ${sudoers}`, () => rmSync(sudoers, { force: true }));
  writeFileSync(`${sudoers}.tmp`, rule, { mode: 0o440 });
  await must(["visudo", "-cf", `${sudoers}.tmp`]);
  await must(["mv", `${sudoers}.tmp`, sudoers]);
}

/**
 * A stand-in `nixos-install` in `bin` (the real one is not packaged for
 * Debian): it says it is one, shows its arguments and what is mounted under
 * the target root, and installs nothing.
 */
export function writeNixosInstallStandIn(bin: string): void {
  mkdirSync(bin, { recursive: true });
  const script = `#!/bin/sh
# stand-in nixos-install (flk demo): installs nothing
root=/mnt
prev=
for a in "$@"; do [ "$prev" = --root ] && root=$a; prev=$a; done
echo "stand-in nixos-install (the real one is not packaged for Debian): nixos-install $*"
echo "stand-in nixos-install: mounted under $root:" $(findmnt -rn -o TARGET,SOURCE | awk -v r="$root" '$1 == r || index($1, r "/") == 1 { printf "%s=%s ", $1, $2 }')
`;
  writeFileSync(join(bin, "nixos-install"), script);
  chmodSync(join(bin, "nixos-install"), 0o755);
}

/** Read the ISO on `stick` (a block device or image) back into `<root>/iso`, as a machine booting it sees it. */
export async function readStick(stick: string, root: string): Promise<void> {
  mkdirSync(join(root, "iso"), { recursive: true });
  // xorriso refuses a /dev path unless told it is a plain random-access file.
  await extractIso(stick.startsWith("/dev/") ? `stdio:${stick}` : stick, join(root, "iso"));
  // nixpkgs' make-iso9660-image.sh writes the image with `xorriso -as mkisofs … -r`: Rock Ridge with every
  // file owned by uid/gid 0, so on the live system /iso/devos belongs to root. The fixture's builder keeps
  // its build user's ids (-R, for /etc modes); read back, the stick's files get the owner a real stick shows.
  const chown = Bun.spawnSync(["chown", "-R", "0:0", join(root, "iso")]);
  if (chown.exitCode !== 0) throw new Error(`chown -R 0:0 ${join(root, "iso")} failed: ${chown.stderr.toString()}`);
}

/**
 * Host path of what the live system sees at `path` and that comes off the
 * stick read into `root`: `/iso/X` is the ISO root's X, `/etc/X` and
 * `/nix/store/X` are where the fixture's image keeps them (test/helpers/iso.ts livePath).
 */
export function stickPath(root: string, path: string): string {
  return join(root, "iso", livePath(path));
}

/** How to boot. */
export interface BootOptions {
  /** The live root: `readStick()` put the ISO root at `<root>/iso`. */
  root: string;
  /** Directory with the stand-in nixos-install, first on the live PATH. */
  standInBin: string;
  cleanups: Cleanups;
  /** Prefix of the network namespace names (default "flk-live"). */
  prefix?: string;
}

/** A booted live installer and the operator's side of its link. */
export interface LiveInstaller {
  root: string;
  /** The host name the stick announces (its evaluated networking.hostName). */
  hostName: string;
  link: Link;
  /** The live installer's namespace (veth end `live.iface`). */
  live: Namespace;
  /** The operator's namespace: run dist/flk here. */
  operator: Namespace;
  /** The live side's EUI-64 link-local address. */
  eui64: string;
  sshd: Sshd;
  avahi: Avahi;
  /** Host path of a live-system path on the stick (`/iso/…`, `/etc/…`, `/nix/store/…`, the fixture's `/flk/…`). */
  file(path: string): string;
}

/** Boot: link, the nixos user, sshd chrooted into the live root, the mDNS responder. */
export async function bootLiveInstaller(options: BootOptions): Promise<LiveInstaller> {
  const { root, cleanups } = options;
  const file = (p: string) => stickPath(root, p);
  const onStick = (p: string) => readFileSync(file(p), "utf8");
  const config = JSON.parse(onStick("/flk/config.json"));
  const hostName = config.networking.hostName as string;
  // The stick's environment.systemPackages (flk among them) reach /usr/bin
  // under this machine's programs: the fixture's other packages are stand-ins.
  const packages = ((config.environment?.systemPackages ?? []) as string[]).filter((p) => existsSync(file(`${p}/bin`)));
  const sw = join(root, "sw");
  mkdirSync(sw, { recursive: true });
  for (const p of packages) for (const name of readdirSync(file(`${p}/bin`))) if (!existsSync(join(sw, name))) symlinkSync(`${p}/bin/${name}`, join(sw, name));
  const link = await createLink({ ipv4A: `${LIVE_IPV4}/16`, ipv4B: `${OPERATOR_IPV4}/16`, prefix: options.prefix ?? "flk-live" });
  cleanups.add(`network namespaces ${link.a.name} ${link.b.name}`, () => link.cleanup());
  const eui64 = await linkLocal(link.a);
  await linkLocal(link.b);
  await liveUser(cleanups);
  const sshd = await startSshd(link.a, {
    hostKey: file("/etc/ssh/ssh_host_ed25519_key"),
    authorizedKeys: onStick("/etc/ssh/authorized_keys.d/nixos"),
    address: "fe80::47",
    extraConfig: [`ListenAddress ${eui64}%${link.a.iface}`, `ListenAddress ${LIVE_IPV4}`, "SetEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    launcher: liveRootLauncher(root, options.standInBin, sw),
  });
  cleanups.add("sshd", () => sshd.stop());
  const avahi = await startAvahi(link.a, { hostName });
  cleanups.add("avahi-daemon", () => avahi.stop());
  return { root, hostName, link, live: link.a, operator: link.b, eui64, sshd, avahi, file };
}

/**
 * argv prefix that runs its tail chrooted into the live root, in a private
 * mount namespace: a tmpfs over `root` (hiding nothing outside), this
 * machine's top-level directories bound in (plain bind for /tmp, which
 * holds the live root itself), the stick's ISO root at `/iso`, its store at
 * `/nix/store`, an empty `/mnt`.
 */
function liveRootLauncher(root: string, standInBin: string, sw: string): string[] {
  const top = readdirSync("/").filter((d) => d !== "iso" && d !== "mnt" && d !== "lost+found");
  const script = `set -e
live=$1; iso=$2; bin=$3; sbin=$4; lib64=$5; standin=$6; sw=$7; shift 7
mount -t tmpfs -o mode=0755 "flk-live:$live" "$live"   # the source names the path: a leak is findable in any mountinfo
for d in ${top.join(" ")}; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$live/$d"
  elif [ -d "/$d" ]; then mkdir "$live/$d"; if [ "$d" = tmp ]; then mount --bind "/$d" "$live/$d"; else mount --rbind "/$d" "$live/$d"; fi
  fi
done
mkdir "$live/iso" "$live/mnt"
mount --bind "$iso" "$live/iso"
# The live /etc is what the stick's system renders (etc.nix; the fixture's image keeps it under /flk/etc), over this machine's /etc.
if [ -d "$iso/flk/etc" ]; then mount -t overlay "flk-live-etc:$live" -o "ro,lowerdir=$iso/flk/etc:/etc" "$live/etc"; fi
# iso-image.nix: the store is the image's squashfs (here its /nix-store directory).
if [ -d "$iso/nix-store" ]; then mkdir -p "$live/nix/store"; mount --bind "$iso/nix-store" "$live/nix/store"; fi
# stub-ld.nix: the stub at /lib64's loader; this machine's programs re-pointed at ${LIVE_LOADER} (live-userland.ts).
ln -s "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$live${LIVE_LOADER}"
# /usr/bin, top layer first: the stand-ins (nixos-install), the re-pointed programs, this machine's, the stick's packages.
mount -t overlay "flk-live-bin:$live" -o "ro,lowerdir=$standin:$bin:/usr/bin:$sw" "$live/usr/bin"
mount -t overlay "flk-live-sbin:$live" -o "ro,lowerdir=$sbin:/usr/sbin" "$live/usr/sbin"
mount --bind "$lib64" "$live/$(readlink -f /lib64 | sed 's|^/||')"
exec chroot "$live" "$@"`;
  const live = join(root, "system");
  mkdirSync(live, { recursive: true });
  if (!existsSync(join(root, "iso"))) throw new Error(`${join(root, "iso")} is missing: readStick() first`);
  const land = prepareUserland(join(root, "userland"));
  return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "live-root", live, join(root, "iso"), land.bin, land.sbin, land.lib64, standInBin, sw];
}
