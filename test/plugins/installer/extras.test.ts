/**
 * --hardware-config's write into the site and --extra-files' check, with
 * real git and the real filesystem as oracles.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkExtraFiles, writeHardwareConfig } from "../../../plugins/installer/extras.ts";

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "flk-extras-"));
  dirs.push(dir);
  return dir;
}
async function git(site: string, ...args: string[]): Promise<string> {
  const child = Bun.spawn(["git", "-C", site, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
  const out = await new Response(child.stdout).text();
  await child.exited;
  return out;
}

describe("--hardware-config writes into the site", () => {
  test("a directory host: beside default.nix; imported → no warning; --git-add stages it (git ls-files)", async () => {
    const site = scratch();
    mkdirSync(join(site, "hosts", "Box"), { recursive: true });
    writeFileSync(join(site, "hosts", "Box", "default.nix"), "{ imports = [ ./hardware-configuration.nix ]; }\n");
    await git(site, "init", "-q");
    const written = await writeHardwareConfig(site, "Box", "{ }", true);
    expect(written).toMatchObject({ file: join(site, "hosts", "Box", "hardware-configuration.nix"), imported: true, gitAdded: true, warnings: [] });
    expect(readFileSync(written.file, "utf8")).toBe("{ }\n");
    expect((await git(site, "ls-files")).trim()).toBe("hosts/Box/hardware-configuration.nix");
  });

  test("a file host: hosts/HOST/hardware-configuration.nix, with the import line to add and the git add command when untracked", async () => {
    const site = scratch();
    mkdirSync(join(site, "hosts"));
    writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
    await git(site, "init", "-q");
    const written = await writeHardwareConfig(site, "NixOS", "{ }\n", false);
    expect(written.imported).toBe(false);
    expect(written.warnings).toEqual([
      "hosts/NixOS.nix does not import the hardware configuration: add `imports = [ ./NixOS/hardware-configuration.nix ];` to it.",
      `hosts/NixOS/hardware-configuration.nix is not tracked by git, so Nix cannot see it: run \`git -C ${site} add hosts/NixOS/hardware-configuration.nix\` (or pass --git-add).`,
    ]);
    // hosts/NixOS/ has no default.nix, so it is not a second host.
    expect(existsSync(join(site, "hosts", "NixOS", "default.nix"))).toBe(false);
  });

  test("refuses to write through a symlinked host directory; the link's target is unchanged", async () => {
    const site = scratch();
    const elsewhere = scratch();
    mkdirSync(join(site, "hosts"));
    symlinkSync(elsewhere, join(site, "hosts", "NixOS"));
    const error = await writeHardwareConfig(site, "NixOS", "{ }", false).catch((e) => e);
    expect([error.code, error.exitCode]).toEqual(["E_SYMLINK", 2]);
    expect(existsSync(join(elsewhere, "hardware-configuration.nix"))).toBe(false);
  });
});

describe("--extra-files DIR", () => {
  test("accepts links that stay inside; refuses absolute links and links that climb out, naming them", () => {
    const dir = scratch();
    mkdirSync(join(dir, "etc", "ssh"), { recursive: true });
    writeFileSync(join(dir, "etc", "ssh", "key"), "k");
    symlinkSync("key", join(dir, "etc", "ssh", "alias"));
    symlinkSync("../ssh/key", join(dir, "etc", "ssh", "alias2"));
    expect(checkExtraFiles(dir)).toBe(dir);
    symlinkSync("../../../outside", join(dir, "etc", "ssh", "climb"));
    expect(() => checkExtraFiles(dir)).toThrow("etc/ssh/climb is a symbolic link to ../../../outside, outside the directory");
    rmSync(join(dir, "etc", "ssh", "climb"));
    symlinkSync("/etc/passwd", join(dir, "etc", "passwd"));
    expect(() => checkExtraFiles(dir)).toThrow("etc/passwd is a symbolic link to /etc/passwd");
    expect(() => checkExtraFiles(join(dir, "missing"))).toThrow("no such directory");
  });
});
