import { describe, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expectedSha256, formatOf, gzipIsize, imageKind, SIGNATURE_BYTES } from "../../../plugins/dd-writer/image.ts";
import { splitPositionals } from "../../../plugins/dd-writer/write-image.ts";
import { sh } from "./helpers.ts";

describe("images", () => {
  test("recognises ISO9660 by CD001 at 0x8001 and hybrid/MBR images by 0x55AA at 510", () => {
    const iso = new Uint8Array(SIGNATURE_BYTES);
    iso.set(new TextEncoder().encode("CD001"), 0x8001);
    const mbr = new Uint8Array(512);
    mbr.set([0x55, 0xaa], 510);
    expect(imageKind(iso)).toBe("iso9660");
    expect(imageKind(mbr)).toBe("mbr");
    expect(imageKind(new Uint8Array(SIGNATURE_BYTES))).toBe("unknown");
    expect(imageKind(new Uint8Array(100))).toBe("unknown");
  });

  test("the format follows the file name", () => {
    expect([formatOf("a.iso"), formatOf("a.iso.zst"), formatOf("a.iso.gz"), formatOf("a.ISO.XZ")]).toEqual(["raw", "zstd", "gzip", "xz"]);
  });

  test("gzip's ISIZE trailer gives the decompressed size of a small image", () => {
    const dir = mkdtempSync("/tmp/flk-ddw-gz-");
    try {
      writeFileSync(join(dir, "a.iso"), new Uint8Array(123457).fill(7));
      sh(["gzip", "-k", join(dir, "a.iso")]);
      const fd = openSync(join(dir, "a.iso.gz"), "r");
      expect(gzipIsize(fd, fstatSync(fd).size)).toBe(123457);
      closeSync(fd);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("--sha256 takes 64 hex digits or a sha256sum file, picking the line that names the image", () => {
    const dir = mkdtempSync("/tmp/flk-ddw-sum-");
    const a = "a".repeat(64), b = "B".repeat(64);
    try {
      writeFileSync(join(dir, "one.sha256"), `${a}  whatever.iso\n`);
      writeFileSync(join(dir, "SHA256SUMS"), `${a}  other.iso\n${b} *nixos.iso\n`);
      expect(expectedSha256(b, "/x/nixos.iso", dir)).toBe(b.toLowerCase());
      expect(expectedSha256("one.sha256", "/x/nixos.iso", dir)).toBe(a);
      expect(expectedSha256("SHA256SUMS", "/x/nixos.iso", dir)).toBe(b.toLowerCase());
      expect(() => expectedSha256("abc123", "/x/nixos.iso", dir)).toThrow(/expected 64 hex digits or a file/);
      expect(() => expectedSha256("SHA256SUMS", "/x/missing.iso", dir)).toThrow(/no `sha256sum` line names missing.iso/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a single positional under /dev is the device, anything else the image", () => {
    expect(splitPositionals("/dev/sdb")).toEqual({ deviceArg: "/dev/sdb" });
    expect(splitPositionals("nixos.iso")).toEqual({ imageArg: "nixos.iso", deviceArg: undefined });
    expect(splitPositionals("a.iso", "/dev/sdc")).toEqual({ imageArg: "a.iso", deviceArg: "/dev/sdc" });
    // A regular file under /dev (an image in /dev/shm) is an IMAGE.
    const shm = mkdtempSync("/dev/shm/flk-ddw-");
    try {
      writeFileSync(join(shm, "x.iso"), "x");
      expect(splitPositionals(join(shm, "x.iso"))).toEqual({ imageArg: join(shm, "x.iso"), deviceArg: undefined });
    } finally {
      rmSync(shm, { recursive: true });
    }
  });
});
