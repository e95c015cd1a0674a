/**
 * `flk install --extra-files DIR` carries private keys (sops/agenix host
 * keys): the compiled binary's --dry-run, --dry-run --json and --script
 * never print them (DESIGN.md: no private key in logs or --json), not even
 * as the base64 tar the script feeds to `tar -x`. Real loop disks with
 * labels; nothing runs (dry run), so no stand-in is called.
 */
import { afterEach, describe, expect } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { flk } from "../helpers/binary.ts";
import { createMachine, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["losetup", "mkfs.ext4", "mkswap", "blkid", "findmnt", "nix", "tar", "base64"]);

let machines: Machine[] = [];
afterEach(async () => {
  for (const m of machines) await m.cleanup();
  machines = [];
});

const SECRET = "AGE-SECRET-KEY-1FLKTESTNEVERPRINTED7Q9";

/** Every string the text holds, and every base64 run in it decoded (at each alignment): where a leaked tar would show the key. */
function readable(text: string): string {
  const decoded = (text.replace(/\\n/g, "\n").match(/[A-Za-z0-9+/=\n]{16,}/g) ?? []).flatMap((run) => {
    const b64 = run.replace(/\n/g, "");
    return [0, 1, 2, 3].map((i) => Buffer.from(b64.slice(i), "base64").toString("latin1"));
  });
  return [text, ...decoded].join("\n");
}

describe("flk install --extra-files never prints the files", () => {
  test("--dry-run --json and --dry-run show '<tar of N files, SIZE bytes: not shown>' and no key (decoded base64 too); --script with --extra-files is exit 2, nothing printed", async () => {
    const m = await createMachine();
    machines.push(m);
    await m.disk("ext4", m.labels.root);
    await m.disk("ext4", m.labels.boot);
    await m.disk("swap", m.labels.swap);
    writeFileSync(join(m.site, "flk.toml"), `plugins = ["installer"]\n\n[installer]\nroot = "${m.root}"\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`);
    const extra = join(m.dir, "extra");
    mkdirSync(join(extra, "var", "lib", "sops-nix"), { recursive: true });
    writeFileSync(join(extra, "var", "lib", "sops-nix", "key.txt"), `${SECRET}\n`, { mode: 0o400 });
    writeFileSync(join(extra, "var", "lib", "sops-nix", "other"), "x\n");
    const env = { NIX_CONFIG: "substituters =", TMPDIR: m.dir };
    const json = await flk(["install", "NixOS", "--dry-run", "--json", "--extra-files", extra], { cwd: m.site, env });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    const step = report.steps.find((s: { id: string }) => s.id === "extra-files");
    expect(step.input).toMatch(/^<tar of 2 files, \d+ bytes: not shown>$/);
    expect(report.script).toContain(step.input);
    expect(readable(json.stdout + json.stderr)).not.toContain(SECRET);
    const human = await flk(["install", "NixOS", "--dry-run", "--extra-files", extra], { cwd: m.site, env });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`copy ${extra} into ${m.root}`);
    expect(readable(human.stdout + human.stderr)).not.toContain(SECRET);
    const script = await flk(["install", "NixOS", "--script", "--extra-files", extra], { cwd: m.site, env });
    expect(script.code).toBe(2);
    expect(script.stdout).toBe("");
    expect(script.stderr).toContain("--script cannot carry --extra-files");
    expect(readable(script.stdout + script.stderr)).not.toContain(SECRET);
    // Without --extra-files, --script still prints the runnable script.
    const plain = await flk(["install", "NixOS", "--script"], { cwd: m.site, env });
    expect([plain.code, plain.stdout.startsWith("#!/bin/sh")]).toEqual([0, true]);
    expect(m.calls()).toEqual([]);
  }, 120_000);
});
