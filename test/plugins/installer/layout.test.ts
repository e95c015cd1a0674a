/**
 * The manual's layout as data: partition numbers, types, 1 MiB alignment,
 * sizes that add up, labels checked against each filesystem's limit.
 * (The loop-device tests read the written table back with sfdisk --json.)
 */
import { describe, expect, test } from "bun:test";
import { ESP_BYTES, GPT_TYPES, parseSize, partitionNode, planLayout } from "../../../plugins/installer/layout.ts";

const labels = { root: "nixos", boot: "boot", swap: "swap" };
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

describe("the NixOS manual's layout", () => {
  test("UEFI with swap: GPT, root 1, swap 2 at the end, ESP 3 in the first 512 MiB, all 1 MiB aligned", () => {
    const l = planLayout({ device: "/dev/sda", size: 20 * GiB, boot: "uefi", swap: 2 * GiB, labels });
    expect(l.table).toBe("gpt");
    expect(l.partitions.map((p) => [p.number, p.role, p.fs, p.label, p.node])).toEqual([
      [1, "root", "ext4", "nixos", "/dev/sda1"], [2, "swap", "swap", "swap", "/dev/sda2"], [3, "boot", "vfat", "boot", "/dev/sda3"],
    ]);
    const [root, swap, esp] = l.partitions;
    expect([esp!.start, esp!.bytes, esp!.type]).toEqual([2048, ESP_BYTES, GPT_TYPES.esp]);
    expect(root!.start).toBe(esp!.start + esp!.sectors);
    expect(swap!.start).toBe(root!.start + root!.sectors);
    expect(swap!.bytes).toBe(2 * GiB);
    for (const p of l.partitions) expect([p.start % 2048, p.sectors % 2048]).toEqual([0, 0]);
    // The GPT backup (33 sectors) stays clear.
    expect(swap!.start + swap!.sectors).toBeLessThanOrEqual(20 * GiB / 512 - 34);
    expect(l.sfdisk).toBe(
      `label: gpt\nunit: sectors\n\nstart=${root!.start}, size=${root!.sectors}, type=${GPT_TYPES.linux}, name=root\nstart=${swap!.start}, size=${swap!.sectors}, type=${GPT_TYPES.swap}, name=swap\nstart=2048, size=1048576, type=${GPT_TYPES.esp}, name=ESP\n`,
    );
    expect(l.mkfs).toEqual([["mkfs.ext4", "-F", "-L", "nixos", "/dev/sda1"], ["mkswap", "-L", "swap", "/dev/sda2"], ["mkfs.fat", "-F", "32", "-n", "boot", "/dev/sda3"]]);
  });

  test("BIOS without swap: MBR, one bootable Linux partition from 1 MiB to the end", () => {
    const l = planLayout({ device: "/dev/nvme0n1", size: 8 * GiB + 12345, boot: "bios", labels });
    expect(l.table).toBe("dos");
    expect(l.partitions.map((p) => [p.node, p.start, p.type])).toEqual([["/dev/nvme0n1p1", 2048, "83"]]);
    expect(l.partitions[0]!.bytes).toBe(8 * GiB - MiB);
    expect(l.sfdisk).toContain("type=83, bootable");
  });

  test("BIOS with swap: swap is partition 2, type 82, at the end", () => {
    const l = planLayout({ device: "/dev/loop3", size: 4 * GiB, boot: "bios", swap: 512 * MiB, labels });
    expect(l.partitions.map((p) => [p.node, p.type, p.bytes])).toEqual([["/dev/loop3p1", "83", 4 * GiB - MiB - 512 * MiB], ["/dev/loop3p2", "82", 512 * MiB]]);
  });

  test("refuses a disk too small for the layout, saying what it needs (exit 2)", () => {
    const error = (() => { try { planLayout({ device: "/dev/sdb", size: 600 * MiB, boot: "uefi", swap: GiB, labels }); } catch (e) { return e as { exitCode: number; code: string; message: string }; } })();
    expect([error?.exitCode, error?.code]).toEqual([2, "E_DISK_TOO_SMALL"]);
    expect(error?.message).toContain("Nothing was written");
  });

  test("refuses labels a filesystem cannot carry: FAT's 11 bytes, ext4's 16", () => {
    expect(() => planLayout({ device: "/dev/sdb", size: 8 * GiB, boot: "uefi", labels: { ...labels, boot: "efi-system-p" } })).toThrow("cannot be a vfat label");
    expect(() => planLayout({ device: "/dev/sdb", size: 8 * GiB, boot: "bios", labels: { ...labels, root: "a-very-long-root-label" } })).toThrow("cannot be a ext4 label");
    // BIOS has no ESP, so a long boot label does not matter there.
    expect(planLayout({ device: "/dev/sdb", size: 8 * GiB, boot: "bios", labels: { ...labels, boot: "efi-system-p" } }).partitions.length).toBe(1);
  });

  test("--swap sizes are binary units rounded to whole MiB; nonsense is a usage error", () => {
    expect([parseSize("8G"), parseSize("8GiB"), parseSize("512M"), parseSize("1.5G"), parseSize("0")]).toEqual([8 * GiB, 8 * GiB, 512 * MiB, 1.5 * GiB, 0]);
    expect(() => parseSize("lots")).toThrow("expected a size like 8G");
    expect(() => parseSize("12K")).toThrow("less than 1 MiB");
  });

  test("partition nodes: a 'p' after a name ending in a digit", () => {
    expect([partitionNode("/dev/sda", 1), partitionNode("/dev/nvme0n1", 2), partitionNode("/dev/mmcblk0", 3), partitionNode("/dev/vdb", 1)]).toEqual(["/dev/sda1", "/dev/nvme0n1p2", "/dev/mmcblk0p3", "/dev/vdb1"]);
  });
});
