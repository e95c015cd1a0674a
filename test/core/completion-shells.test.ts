/**
 * zsh and fish completion of dist/flk offer what bash's does: the site's
 * host names for `iso`/`ssh`/`install` and `disk --host`, and the disks flk
 * may write for `write`'s DEVICE — asked from the flk being completed
 * (`flk completion --values hosts|devices`). Real zsh and fish run the
 * scripts dist/flk prints; dist/ is first on PATH, as an installed flk is.
 */
import { afterAll, describe, expect } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "flk-completion-shells-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PATH = `${dirname(FLK)}:${process.env.PATH}`;
const env = { ...process.env, PATH, NIX_CONFIG: "substituters =", TMPDIR: dir };

/** A site with hosts/NixOS.nix and hosts/Laptop.nix. */
function site(name: string, hosts: string[] = ["NixOS", "Laptop"]): string {
  const root = join(dir, name);
  mkdirSync(join(root, "hosts"), { recursive: true });
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { nixosConfigurations = { Flaky = { }; }; }; }\n");
  for (const host of hosts) writeFileSync(join(root, "hosts", `${host}.nix`), "{ }\n");
  return root;
}

async function script(shell: "zsh" | "fish", cwd: string): Promise<string> {
  const r = await flk(["completion", shell], { cwd });
  expect(r.code).toBe(0);
  const file = join(cwd, `flk.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

function lines(argv: string[], cwd: string): string[] {
  const r = Bun.spawnSync(argv, { cwd, env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().split("\n").filter(Boolean).sort();
}

/** A loop device over a 1 MiB file: a disk flk may write. */
function withLoop(cwd: string, fn: (loop: string) => void): void {
  const backing = join(cwd, "stick.img");
  writeFileSync(backing, new Uint8Array(1 << 20));
  const loop = Bun.spawnSync(["losetup", "--find", "--show", backing]).stdout.toString().trim();
  try {
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    fn(loop);
  } finally {
    Bun.spawnSync(["losetup", "-d", loop]);
  }
}

describe("zsh completion of dist/flk", () => {
  systemTest(["zsh", "losetup"])("offers hosts for iso/ssh/install and disk --host, and writable devices (and files) for write", async () => {
    const cwd = site("zsh");
    const file = await script("zsh", cwd);
    // compadd/_describe/_files are zsh's completion builtins; outside an
    // interactive completion they are stubbed to print what they are given.
    const complete = (words: string[]) =>
      lines(["zsh", "-f", "-c", `compdef() {}; compadd() { [[ $1 == -- ]] && shift; print -l -- $@ }; _describe() { print -l -- \${(P)2%%:*} }; _files() { print FILES }
source ${file}; words=(flk ${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length + 1}; PREFIX='${words.at(-1)}'; _flk`], cwd);
    for (const command of ["iso", "ssh", "install"]) expect(complete([command, ""])).toEqual(["Laptop", "NixOS"]);
    expect(complete(["disk", "/dev/sdz", "--host", ""])).toEqual(["Laptop", "NixOS"]);
    expect(complete(["iso", "--print-m"])).toContain("--print-module");
    withLoop(cwd, (loop) => {
      const offered = complete(["write", "stick.img", ""]);
      expect(offered).toContain(loop);
      expect(offered).toContain("FILES");
    });
  });
});

describe("fish completion of dist/flk", () => {
  systemTest(["fish", "losetup"])("offers hosts for iso/ssh/install and disk --host, and writable devices for write", async () => {
    const cwd = site("fish");
    const file = await script("fish", cwd);
    const complete = (line: string) => lines(["fish", "--no-config", "-c", `source ${file}; complete -C '${line}'`], cwd);
    for (const command of ["iso", "ssh", "install"]) expect(complete(`flk ${command} `)).toEqual(["Laptop", "NixOS"]);
    expect(complete("flk ssh N")).toEqual(["NixOS"]);
    expect(complete("flk disk /dev/sdz --host ")).toEqual(["Laptop", "NixOS"]);
    withLoop(cwd, (loop) => expect(complete("flk write stick.img /dev/lo")).toContain(loop));
  });

  systemTest(["fish", "nix"])("a site whose hosts all live in flake.nix offers its nixosConfigurations names", async () => {
    const cwd = site("fish-flake", []);
    const file = await script("fish", cwd);
    expect(lines(["fish", "--no-config", "-c", `source ${file}; complete -C 'flk iso '`], cwd)).toEqual(["Flaky"]);
  });
});
