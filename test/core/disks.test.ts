/**
 * The core disk judge over recorded kernel tables (mountinfo, /proc/swaps,
 * a recorded /sys/block, lsblk JSON); the same judge against real loop
 * devices is in test/plugins/dd-writer and test/system.
 */
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assess, devString, isFlkError, parseLsblk, parseMountinfo, parseSwaps, readSysBlocks, usesOf } from "../../core/index.ts";

describe("kernel tables", () => {
  test("mountinfo yields device number, mount point and source, with octal escapes decoded", () => {
    const text = [
      "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
      "40 22 7:3 / /mnt/my\\040stick rw,relatime shared:9 - ext4 /dev/loop3 rw",
      "41 22 0:45 / /data rw - btrfs /dev/sdb2 rw,space_cache",
      "garbage line",
    ].join("\n");
    expect(parseMountinfo(text)).toEqual([
      { majmin: "254:0", root: "/", mountpoint: "/", fstype: "ext4", source: "/dev/vda", superOptions: "rw" },
      { majmin: "7:3", root: "/", mountpoint: "/mnt/my stick", fstype: "ext4", source: "/dev/loop3", superOptions: "rw" },
      { majmin: "0:45", root: "/", mountpoint: "/data", fstype: "btrfs", source: "/dev/sdb2", superOptions: "rw,space_cache" },
    ]);
  });

  test("/proc/swaps yields the swap areas without the header", () => {
    expect(parseSwaps("Filename\tType\tSize\tUsed\tPriority\n/dev/zram0  partition 1024 0 100\n/swap\\040file file 10 0 -2\n")).toEqual(["/dev/zram0", "/swap file"]);
  });

  test("device numbers decode like gnu_dev_major/minor, also for minors above 255", () => {
    expect(devString(statSync("/dev/null").rdev)).toBe("1:3"); // mem driver, minor 3 (Documentation/admin-guide/devices.txt)
    // makedev(259, 1048575) in glibc's 64-bit encoding
    const major = 259, minor = 1048575;
    const rdev = (minor & 0xff) + ((major & 0xfff) << 8) + (minor & ~0xff) * 4096 + (major & ~0xfff) * 2 ** 32;
    expect(devString(rdev)).toBe(`${major}:${minor}`);
  });
});

describe("lsblk --json", () => {
  test("partitions are flattened and padded model strings trimmed", () => {
    const text = JSON.stringify({
      blockdevices: [
        { name: "/dev/sdb", kname: "/dev/sdb", path: "/dev/sdb", type: "disk", size: 31457280000, model: "Ultra Fit       ", serial: "4C530001", tran: "usb", children: [{ name: "/dev/sdb1", kname: "/dev/sdb1", path: "/dev/sdb1", type: "part", size: 1000, model: null }] },
      ],
    });
    expect(parseLsblk(text)).toEqual([
      { kname: "sdb", path: "/dev/sdb", type: "disk", size: 31457280000, model: "Ultra Fit", serial: "4C530001", tran: "usb" },
      { kname: "sdb1", path: "/dev/sdb1", type: "part", size: 1000, model: null, serial: null, tran: null },
    ]);
  });

  test("any bytes either parse to devices or fail as a FlkError (fuzz)", () => {
    const seeds = ['{"blockdevices":[{"path":"/dev/sda","size":"12","children":[null,1,{"name":"/dev/sda1"}]}]}', '{"blockdevices":{}}', "[]", "null"];
    for (let i = 0; i < 2000; i++) {
      const seed = seeds[i % seeds.length]!;
      const bytes = [...seed];
      for (let k = 0; k < 1 + (i % 4); k++) bytes[Math.floor(Math.random() * bytes.length)] = String.fromCharCode(32 + Math.floor(Math.random() * 95));
      try {
        for (const d of parseLsblk(bytes.join(""))) expect(typeof d.path).toBe("string");
      } catch (error) {
        expect(isFlkError(error)).toBe(true);
      }
    }
  });
});

describe("verdicts on a recorded sysfs tree", () => {
  /**
   * A /sys/block with: sdb (removable USB, partition sdb1), sda (internal,
   * holder dm-0 on sda2), sdc (read-only), loop0. Recorded because this
   * test kernel has no partition support (losetup -P + sfdisk make none)
   * and no device-mapper.
   */
  function recordedSys(): string {
    const sys = mkdtempSync("/tmp/flk-ddw-sys-");
    const dev = (path: string, files: Record<string, string>, dirs: string[] = []) => {
      mkdirSync(join(sys, "block", path), { recursive: true });
      for (const [k, v] of Object.entries(files)) {
        mkdirSync(join(sys, "block", path, k, ".."), { recursive: true });
        writeFileSync(join(sys, "block", path, k), v + "\n");
      }
      for (const d of dirs) mkdirSync(join(sys, "block", path, d), { recursive: true });
    };
    dev("sdb", { dev: "8:16", removable: "1", ro: "0", size: "60000000" }, ["holders", "slaves"]);
    dev("sdb/sdb1", { dev: "8:17", partition: "1", size: "50000000" }, ["holders"]);
    dev("sda", { dev: "8:0", removable: "0", ro: "0", size: "2000000000" }, ["holders"]);
    dev("sda/sda2", { dev: "8:2", partition: "2", size: "1000000" }, ["holders/dm-0"]);
    dev("dm-0", { dev: "254:0", removable: "0", ro: "0", size: "1000000" }, ["slaves/sda2"]);
    dev("sdc", { dev: "8:32", removable: "1", ro: "1", size: "1000" });
    dev("loop0", { dev: "7:0", removable: "0", ro: "0", size: "2048", "loop/backing_file": "/tmp/x.img" });
    return sys;
  }

  test("removable → writable, internal → needs --force, partition/read-only/stacked → refused", () => {
    const sys = recordedSys();
    try {
      const view = { blocks: readSysBlocks(sys), usage: { mounts: new Map(), swaps: new Set<string>() } };
      expect(assess("sdb", view)).toEqual({ verdict: "writable", reason: null });
      expect(assess("loop0", view)).toEqual({ verdict: "writable", reason: null });
      expect(assess("sdc", view).reason).toMatch(/read-only/);
      expect(assess("sda2", view).reason).toMatch(/a partition of \/dev\/sda: write the image to the whole disk/);
      expect(assess("sda", view).verdict).toBe("refused");
      expect(usesOf("sda", view)).toEqual(["/dev/dm-0 is stacked on /dev/sda2 (dm/LVM/LUKS/md: close or stop it first)"]);
      expect(assess("dm-0", view)).toEqual({ verdict: "needs-force", reason: "a non-removable disk (internal?): pass --force if you really mean it" });
      view.usage.mounts.set("254:0", ["/home"]);
      view.usage.swaps.add("8:16");
      expect(assess("dm-0", view).reason).toBe("in use: /dev/dm-0 is mounted on /home");
      expect(assess("sdb", view).reason).toBe("in use: /dev/sdb is active swap (swapoff /dev/sdb)");
      expect(assess("sdb", { ...view, usage: { mounts: new Map(), swaps: new Set() }, imageDisks: new Set(["sdb"]) }).reason).toBe("the image file itself lives on this disk");
      expect(assess("sdb", { ...view, usage: { mounts: new Map([["8:17", ["/media/stick"]]]), swaps: new Set() } }).reason).toBe("in use: /dev/sdb1 is mounted on /media/stick");
      expect(assess("sdb1", view).reason).toMatch(/^a partition of \/dev\/sdb/);
    } finally {
      rmSync(sys, { recursive: true });
    }
  });
});

describe("loop backing chains in another machine's view (flk disk over ssh: paths are not stat'ed here)", () => {
  const loop = (name: string, dev: string, backingFile: string) => ({ name, dev, size: 1 << 20, readOnly: false, removable: false, logicalBlockSize: 512, partitions: [], holders: [], slaves: [], backingFile });
  const view = {
    remote: true,
    blocks: new Map([
      ["loop0", loop("loop0", "7:0", "/srv/a.img")],
      ["loop1", loop("loop1", "7:1", "/dev/loop0")],
      ["loop2", loop("loop2", "7:2", "/srv/b.img")],
      ["loop3", loop("loop3", "7:3", "/srv/b.img")],
      ["loop5", loop("loop5", "7:5", "/srv/c.img")],
      ["loop4", loop("loop4", "7:4", "/dev/loop5")],
    ]),
    usage: { mounts: new Map([["7:0", ["/mnt"]]]), swaps: new Set<string>() },
  };

  test("stacked on a mounted loop device → refused; sharing a backing file → refused; stacked on a free one → needs --force", () => {
    expect(assess("loop1", view).reason).toBe("/dev/loop1 is backed by the block device /dev/loop0, which is in use: /dev/loop0 is mounted on /mnt");
    expect(assess("loop2", view).reason).toMatch(/^\/dev\/loop2's backing file \/srv\/b\.img is also the backing file of \/dev\/loop3/);
    expect(assess("loop4", view)).toEqual({ verdict: "needs-force", reason: "/dev/loop4 is backed by the block device /dev/loop5: writing it overwrites /dev/loop5" });
    expect(assess("loop5", view).reason).toBe("in use: /dev/loop4 is a loop device backed by /dev/loop5 (losetup -d /dev/loop4)");
  });
});
