/**
 * The probe: its parser against the kernel's own mount table (findmnt as the
 * oracle), a fuzz test for outside bytes (ssh banners, shell noise), and the
 * script run for real on this machine.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { byLabelName, parseMountinfo, parseProbe, probeScript, DEFAULT_PATHS } from "../../../plugins/installer/probe.ts";
import { sh } from "./fixtures.ts";

describe("parseMountinfo", () => {
  test("agrees with findmnt on this machine's mount table", async () => {
    const table = (await Bun.file("/proc/self/mountinfo").text()).trim().split("\n");
    const parsed = table.map(parseMountinfo);
    expect(parsed.every(Boolean)).toBe(true);
    const oracle = JSON.parse((await sh(["findmnt", "-J", "-l", "-o", "TARGET,FSTYPE,MAJ:MIN", "-M", "/"])).stdout) as { filesystems: Array<{ target: string; fstype: string; "maj:min": string }> };
    const root = oracle.filesystems[0]!;
    expect(parsed.some((m) => m!.mountpoint === root.target && m!.fstype === root.fstype && m!.majmin === root["maj:min"])).toBe(true);
  });

  test("decodes octal escapes and skips optional fields up to the separator", () => {
    const line = String.raw`36 35 98:0 /mnt1 /mnt/my\040disk rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue`;
    expect(parseMountinfo(line)).toEqual({ majmin: "98:0", root: "/mnt1", mountpoint: "/mnt/my disk", fstype: "ext3", source: "/dev/root", superOptions: "rw,errors=continue" });
    expect(parseMountinfo("36 35 98:0 /mnt1 /mnt rw")).toBeUndefined();
  });
});

describe("parseProbe", () => {
  const sample = [
    "Welcome to the live installer", "flk-probe 1", "uid 0", "label root nixos", "primary root 103:a /dev/sda2", "label boot boot", "primary boot zz /dev/sda1", "label swap swap", "label data my data", "primary data 8:11 /dev/my disk",
    "blkid DEVNAME=/dev/sda2", "blkid MAJMIN=103:a", "blkid LABEL=nixos", "blkid TYPE=ext4",
    "blkid DEVNAME=/dev/sda1", "blkid MAJMIN=8:1", "blkid LABEL=boot", "blkid TYPE=vfat",
    "blkid DEVNAME=/dev/sdb1", "blkid MAJMIN=8:11", "blkid LABEL=my\\ data", "blkid TYPE=ext4",
    "blkid DEVNAME=/dev/sr0", "blkid MAJMIN=b:0", "blkid TYPE=iso9660",
    "uefi 1", "variant installer", "nixos-install /run/current-system/sw/bin/nixos-install", "flake-dir /iso/devos", "flake 1", "host-file 1",
    "mount 22 1 0:20 / /nix/store rw - overlay overlay rw,lowerdir=/nix/.ro-store,upperdir=/nix/.rw-store/store", "swap /dev/sda3", "end",
  ].join("\n");

  test("reads a live installer's answer: devices by label from the blkid scan, hex major:minor into decimal, escaped labels, banner lines ignored", () => {
    const facts = parseProbe(sample);
    expect(facts.complete && facts.started).toBe(true);
    expect(facts.labels.root).toEqual({ label: "nixos", primary: { path: "/dev/sda2", majmin: "259:10" }, devices: [{ path: "/dev/sda2", majmin: "259:10", type: "ext4" }] });
    expect(facts.labels.boot!.primary).toBeUndefined();
    expect(facts.labels.data!.primary).toEqual({ path: "/dev/my disk", majmin: "8:17" });
    expect(facts.labels.data!.devices).toEqual([{ path: "/dev/sdb1", majmin: "8:17", type: "ext4" }]);
    expect(facts.labels.swap!.devices).toEqual([]);
    expect([facts.uefi, facts.variant, facts.uid, facts.flake.present, facts.flake.hostFile]).toEqual([true, "installer", 0, true, true]);
    expect(facts.mounts[0]!.superOptions).toContain("upperdir=/nix/.rw-store/store");
    expect(facts.swaps).toEqual(["/dev/sda3"]);
  });

  test("fuzz: 5,000 mutated answers never throw and yield only well-formed devices and mounts", () => {
    const lines = sample.split("\n");
    const junk = ["", " ", "blkid", "blkid =x", "blkid DEVNAME=", "blkid MAJMIN=zz", "blkid LABEL=nixos", "mount 1 2 3", "hosts [1,2", "hosts {}", "label", "primary nope /x", "primary root 8:1", "primary root 8:1 x", "uid -1", "\r", "eval-error"];
    for (let i = 0; i < 5000; i++) {
      const mutated = Array.from({ length: 1 + Math.floor(Math.random() * 30) }, () => {
        const base = Math.random() < 0.5 ? lines[Math.floor(Math.random() * lines.length)]! : junk[Math.floor(Math.random() * junk.length)]!;
        if (Math.random() < 0.3) {
          const at = Math.floor(Math.random() * (base.length + 1));
          return base.slice(0, at) + String.fromCharCode(Math.floor(Math.random() * 128)) + base.slice(at + 1);
        }
        return base;
      }).join("\n");
      const facts = parseProbe(mutated);
      for (const fact of Object.values(facts.labels))
        for (const d of [...fact.devices, ...(fact.primary ? [fact.primary] : [])]) expect(d.path.startsWith("/") && /^\d+:\d+$/.test(d.majmin)).toBe(true);
      for (const m of facts.mounts) expect(m.mountpoint.startsWith("/") && /^\d+:\d+$/.test(m.majmin)).toBe(true);
      if (facts.flake.hosts) expect(facts.flake.hosts.every((h) => typeof h === "string")).toBe(true);
    }
  });
});

describe("byLabelName", () => {
  test("encodes a label as udev names its link (blkid_encode_string): space, slash and backslash as \\xNN, UTF-8 kept", () => {
    expect(byLabelName("nixos")).toBe("nixos");
    expect(byLabelName("my data/2\\x")).toBe("my\\x20data\\x2f2\\x5cx");
    expect(byLabelName("a#+-.:=@_Zé")).toBe("a#+-.:=@_Zé");
  });
});

describe("probeScript", () => {
  const cleanups: string[] = [];
  afterAll(() => {
    for (const dir of cleanups) rmSync(dir, { recursive: true, force: true });
  });

  test("run on this machine: sees the mount table, the uid, an injected firmware dir and os-release, and no such label", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flk-probe-"));
    cleanups.push(dir);
    mkdirSync(join(dir, "efi"));
    writeFileSync(join(dir, "os-release"), 'NAME=NixOS\nVARIANT_ID="installer"\n');
    const script = probeScript({ labels: { root: `flk-no-such-${process.pid}` }, paths: { ...DEFAULT_PATHS, firmware: dir, osRelease: join(dir, "os-release") }, flakeDir: dir });
    const run = await sh(["sh", "-s"], script);
    const facts = parseProbe(run.stdout, dir);
    expect(facts.complete).toBe(true);
    expect(facts.uid).toBe(process.getuid!());
    expect([facts.uefi, facts.variant, facts.flake.present]).toEqual([true, "installer", false]);
    expect(facts.labels.root!.devices).toEqual([]);
    expect(facts.mounts.some((m) => m.mountpoint === "/")).toBe(true);
    const plain = parseProbe((await sh(["sh", "-s"], probeScript({ labels: {}, paths: DEFAULT_PATHS, flakeDir: dir }))).stdout);
    // Without the injected directory, the real sysfs decides.
    expect(plain.uefi).toBe(existsSync("/sys/firmware/efi"));
  });

  test("run on this machine: resolves a label through an injected by-label directory (encoded name, realpath, major:minor) and ignores a link to a non-block file", async () => {
    const block = readdirSync("/dev").map((n) => `/dev/${n}`).find((p) => { try { return statSync(p).isBlockDevice(); } catch { return false; } });
    // Any machine that runs these tests has a block device node (loop devices at least).
    expect(block).toBeDefined();
    if (!block) return;
    const dir = mkdtempSync(join(tmpdir(), "flk-bylabel-"));
    cleanups.push(dir);
    const label = `flk probe ${process.pid}`;
    // As udev lays it out: by-label/NAME → ../by-id/… → the device.
    const byLabel = join(dir, "by-label");
    mkdirSync(join(dir, "by-id"));
    mkdirSync(byLabel);
    symlinkSync(block, join(dir, "by-id", "disk"));
    symlinkSync("../by-id/disk", join(byLabel, byLabelName(label)));
    symlinkSync("/dev/null", join(byLabel, "not-a-disk"));
    const script = probeScript({ labels: { root: label, boot: "not-a-disk", swap: "absent" }, paths: { ...DEFAULT_PATHS, byLabel }, flakeDir: dir });
    const facts = parseProbe((await sh(["sh", "-s"], script)).stdout, dir);
    const st = statSync(block);
    expect(facts.byLabel).toBe(true);
    expect(facts.labels.root!.primary).toEqual({ path: block, majmin: `${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}` });
    expect(facts.labels.boot!.primary).toBeUndefined();
    expect(facts.labels.swap!.primary).toBeUndefined();
    const none = parseProbe((await sh(["sh", "-s"], probeScript({ labels: {}, paths: { ...DEFAULT_PATHS, byLabel: join(dir, "absent") }, flakeDir: dir }))).stdout);
    expect(none.byLabel).toBe(false);
  });
});
