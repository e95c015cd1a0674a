import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeFileDurable, writeFileAtomic } from "../../core/atomic.ts";

test("atomic writes replace the file whole, leave no temp file, and keep the mode", () => {
  const dir = mkdtempSync(join(tmpdir(), "flk-atomic-"));
  try {
    const file = join(dir, "secrets", "keys", "alice.pub");
    writeFileAtomic(file, "one\n", 0o600);
    writeFileAtomic(file, "two\n", 0o600);
    expect(readFileSync(file, "utf8")).toBe("two\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "secrets", "keys"))).toEqual(["alice.pub"]);
    removeFileDurable(file);
    expect(readdirSync(join(dir, "secrets", "keys"))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
