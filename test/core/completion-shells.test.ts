/**
 * zsh and fish completion of dist/flk offer what bash's does: the site's
 * host names for `iso`/`ssh`/`install` and `disk --host`, and the disks flk
 * may write for `write`'s DEVICE — asked from the flk being completed
 * (`flk completion --values hosts|devices`); a flag that takes a value
 * completes its own values (`--boot` uefi/bios, files, directories, or
 * nothing), never the command's hosts or disks. Real bash, zsh and fish run
 * the scripts dist/flk prints; dist/ is first on PATH, as an installed flk is.
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

describe("a flag that takes a value completes its own values, in bash, zsh and fish (dist/flk)", () => {
  /** The script dist/flk prints, kept outside the site (whose files the shells list). */
  const scriptOutside = async (shell: "bash" | "zsh" | "fish", cwd: string) => {
    const r = await flk(["completion", shell], { cwd });
    expect(r.code).toBe(0);
    const file = `${cwd}.${shell}`;
    writeFileSync(file, r.stdout);
    return file;
  };
  // What each shell offers for `flk WORDS…<TAB>` (the last word is being completed), in a site with hosts NixOS and Laptop.
  const offered = {
    bash: async (cwd: string, words: string[]) => {
      const file = await scriptOutside("bash", cwd);
      const all = ["flk", ...words];
      return lines(["bash", "-c", `source ${file}; COMP_WORDS=(${all.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${all.length - 1}; _flk; printf '%s\\n' "\${COMPREPLY[@]}"`], cwd);
    },
    zsh: async (cwd: string, words: string[]) => {
      const file = await scriptOutside("zsh", cwd);
      // compadd/_describe/_files are zsh's completion builtins, stubbed to print what they are given (`_files -/`: FILES-/).
      return lines(["zsh", "-f", "-c", `compdef() {}; compadd() { [[ $1 == -- ]] && shift; print -l -- $@ }; _describe() { print -l -- \${(P)2%%:*} }; _files() { print FILES$1 }
source ${file}; words=(flk ${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length + 1}; PREFIX='${words.at(-1)}'; _flk`], cwd);
    },
    fish: async (cwd: string, words: string[]) => {
      const file = await scriptOutside("fish", cwd);
      return lines(["fish", "--no-config", "-c", `source ${file}; complete -C 'flk ${words.join(" ")}'`], cwd);
    },
  };
  const files = { bash: ["flake.nix", "hosts"], zsh: ["FILES"], fish: ["flake.nix", "hosts/"] };
  const dirs = { bash: ["hosts"], zsh: ["FILES-/"], fish: ["hosts/\tDirectory"] };

  for (const shell of ["bash", "zsh", "fish"] as const) {
    systemTest([shell])(`${shell}: --boot offers uefi/bios, --hardware-backend its tools, --swap nothing, -i/--config files, --site directories — never the command's hosts or disks`, async () => {
      const cwd = site(`flags-${shell}`);
      const complete = (...words: string[]) => offered[shell](cwd, words);
      expect(await complete("install", "--boot", "")).toEqual(["bios", "uefi"]);
      expect(await complete("install", "--hardware-backend", "")).toEqual(["nixos-facter", "nixos-generate-config"]);
      // zsh's compadd (stubbed here) filters by the typed prefix itself.
      if (shell !== "zsh") expect(await complete("install", "--hardware-backend", "nixos-f")).toEqual(["nixos-facter"]);
      expect(await complete("disk", "--boot", "")).toEqual(["bios", "uefi"]);
      expect(await complete("disk", "/dev/sdz", "--swap", "")).toEqual([]);
      expect(await complete("ssh", "NixOS", "-i", "")).toEqual(files[shell]);
      expect(await complete("iso", "--config", "")).toEqual(files[shell]);
      expect(await complete("iso", "--site", "")).toEqual(dirs[shell]);
      // The value flags that complete from flk still do; positional hosts are unchanged.
      expect(await complete("disk", "/dev/sdz", "--host", "")).toEqual(["Laptop", "NixOS"]);
      expect(await complete("install", "")).toEqual(["Laptop", "NixOS"]);
    });
  }

  systemTest(["fish"])("fish offers the one-letter flags: ssh's -i -p -J and the global -y", async () => {
    const cwd = site("flags-fish-short");
    const offeredFlags = await offered.fish(cwd, ["ssh", "-"]);
    for (const flag of ["-i", "-p", "-J", "-y", "--yes", "--identity"]) expect(offeredFlags).toContain(flag);
  });
});
