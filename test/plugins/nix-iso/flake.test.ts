/** Which flake reference flk uses, and which site files Nix can see (real git). */
import { afterEach, describe, expect, test } from "bun:test";
import { refusal as refuse } from "../../helpers/refusal.ts";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSiteFiles, lockedInputs, siteFlake } from "../../../plugins/nix-iso/flake.ts";
import { systemTest } from "../../helpers/require.ts";

const it = systemTest(["git"], { root: false });
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "flk-flake-")));
  dirs.push(dir);
  return dir;
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  const child = Bun.spawn(["git", ...args], { cwd, stdout: "ignore", stderr: "pipe" });
  if ((await child.exited) !== 0) throw new Error(await new Response(child.stderr).text());
}

/** The FlkError `promise` rejects with. */
function refusal(promise: Promise<unknown>) {
  return refuse(() => promise);
}

function write(dir: string, file: string, text = "x\n"): void {
  mkdirSync(join(dir, file, ".."), { recursive: true });
  writeFileSync(join(dir, file), text);
}

describe("siteFlake", () => {
  it("uses git+file for a site at the root of a git work tree", async () => {
    const dir = tempDir();
    await git(dir, "init", "-q");
    expect(await siteFlake(dir)).toEqual({ root: dir, ref: `git+file://${dir}`, gitTop: dir, subdir: "" });
  });

  it("points dir= at a site in a subdirectory of its repository", async () => {
    const dir = tempDir();
    await git(dir, "init", "-q");
    mkdirSync(join(dir, "sites", "lab"), { recursive: true });
    const flake = await siteFlake(join(dir, "sites", "lab"));
    expect(flake.ref).toBe(`git+file://${dir}?dir=sites/lab`);
    expect(flake.subdir).toBe("sites/lab");
  });

  it("uses path: outside git", async () => {
    const dir = tempDir();
    expect((await siteFlake(dir)).ref).toBe(`path:${dir}`);
  });
});

describe("checkSiteFiles", () => {
  it("refuses an untracked file in a git flake, naming it and the git add command", async () => {
    const dir = tempDir();
    await git(dir, "init", "-q");
    write(dir, "secrets/keys/alice.pub");
    write(dir, "secrets/keys/bob.pub");
    await git(dir, "add", "secrets/keys/bob.pub");
    const error = await refusal(checkSiteFiles(await siteFlake(dir), ["secrets/keys/alice.pub", "secrets/keys/bob.pub"]));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("E_ISO_FILE_UNTRACKED");
    expect(error.message).toContain("`secrets/keys/alice.pub` is not tracked by git");
    expect(error.message).not.toContain("`secrets/keys/bob.pub`");
    expect(error.message).toContain(`git -C ${dir} add secrets/keys/alice.pub`);
  });

  it("names the repository-relative path when the site is a subdirectory", async () => {
    const dir = tempDir();
    await git(dir, "init", "-q");
    write(dir, "site/keys/a b.pub");
    const error = await refusal(checkSiteFiles(await siteFlake(join(dir, "site")), ["keys/a b.pub"]));
    expect(error.message).toContain(`git -C ${dir} add 'site/keys/a b.pub'`);
  });

  it("accepts tracked files, staged ones and directories with tracked files", async () => {
    const dir = tempDir();
    await git(dir, "init", "-q");
    write(dir, "secrets/keys/a.pub");
    write(dir, "modules/live.nix");
    await git(dir, "add", "secrets", "modules");
    await checkSiteFiles(await siteFlake(dir), ["secrets/keys/a.pub", "secrets/keys", "modules/live.nix"]);
  });

  it("refuses a missing file, git or not", async () => {
    const dir = tempDir();
    const error = await refusal(checkSiteFiles(await siteFlake(dir), ["secrets/keys/nobody.pub"]));
    expect(error.code).toBe("E_ISO_FILE_MISSING");
    expect(error.message).toContain("`secrets/keys/nobody.pub`");
  });

  it("outside git any existing file is fine: path: flakes copy everything", async () => {
    const dir = tempDir();
    write(dir, "secrets/keys/a.pub");
    await checkSiteFiles(await siteFlake(dir), ["secrets/keys/a.pub"]);
  });
});

describe("lockedInputs", () => {

  test("every node once, by its shortest path; follows edges add nothing", () => {
    const lock = {
      version: 7,
      root: "root",
      nodes: {
        root: { inputs: { nixpkgs: "nixpkgs", home: "home", a: "a" } },
        nixpkgs: { locked: {} },
        home: { inputs: { nixpkgs: ["nixpkgs"], utils: "utils" }, locked: {} },
        utils: { inputs: { systems: "systems" }, locked: {} },
        systems: { locked: {} },
        a: { inputs: { b: "b", utils: "utils" }, locked: {} },
        b: { locked: {}, flake: false },
      },
    };
    expect(lockedInputs(JSON.stringify(lock))).toEqual([["a"], ["home"], ["nixpkgs"], ["a", "b"], ["a", "utils"], ["a", "utils", "systems"]]);
  });

  test("a flake without inputs has none; a broken lock is refused with `nix flake lock`", () => {
    expect(lockedInputs('{"nodes":{"root":{}},"root":"root","version":7}')).toEqual([]);
    expect(() => lockedInputs("{ nope")).toThrow("Run `nix flake lock` to rewrite it.");
  });
});
