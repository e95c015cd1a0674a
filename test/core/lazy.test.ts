/**
 * Commands are resolved lazily (DESIGN.md "Layout"): running one command
 * loads and builds that command only, `flk --help` lists every command
 * without loading any that declared its description, and every built-in
 * plugin registers its commands as loaders.
 */
import { describe, expect, test } from "bun:test";
import { collectCommands, runCli } from "../../core/cli.ts";
import { defineCommand, definePlugin } from "../../core/index.ts";
import type { CommandRegistry, LazyCommand } from "../../core/hooks.ts";
import nixIso from "../../plugins/nix-iso/index.ts";
import ddWriter from "../../plugins/dd-writer/index.ts";
import mdns from "../../plugins/mdns/index.ts";
import ipv6Lla from "../../plugins/ipv6-lla/index.ts";
import sshKeys from "../../plugins/ssh-keys/index.ts";
import installer from "../../plugins/installer/index.ts";
import { testFlk } from "../helpers/flk.ts";

const ALL = [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer];

/** A plugin with three lazy commands that record when they are built and run. */
function recorder(order: string[]) {
  return definePlugin({
    name: "probe",
    description: "test",
    options: {},
    apply(flk) {
      flk.hooks.commands.tap("probe", (registry) => {
        for (const name of ["alpha", "beta", "gamma"])
          registry.add(
            name,
            async () => {
              order.push(`build ${name}`);
              return defineCommand({ meta: { name, description: `the ${name} command` }, run: () => void order.push(`run ${name}`) });
            },
            { plugin: "probe", description: `the ${name} command` },
          );
      });
    },
  });
}

describe("lazy commands", () => {
  test("running one command builds that one only", async () => {
    const order: string[] = [];
    expect(await runCli(["beta"], { plugins: [recorder(order)], version: "0", cwd: "/" })).toBe(0);
    expect(order).toEqual(["build beta", "run beta"]);
  });

  test("flk --help lists every command without building any", async () => {
    const order: string[] = [];
    const lines: string[] = [];
    const log = console.log;
    console.log = (text: string) => void lines.push(text);
    try {
      expect(await runCli(["--help"], { plugins: [recorder(order)], version: "0", cwd: "/" })).toBe(0);
    } finally {
      console.log = log;
    }
    expect(order).toEqual([]);
    for (const name of ["alpha", "beta", "gamma"]) expect(lines.join("\n")).toContain(`the ${name} command`);
  });

  test("every built-in plugin adds its commands as loaders, each with a description for --help", () => {
    const flk = testFlk({ plugins: ALL, cwd: "/" });
    const added: Array<{ name: string; lazy: boolean; description?: string }> = [];
    const registry: CommandRegistry = { add: (name: string, command: LazyCommand, options) => void added.push({ name, lazy: typeof command === "function", description: options?.description }) };
    flk.hooks.commands.call(registry);
    expect(added.map((a) => a.name).sort()).toEqual(["devices", "disk", "hosts", "install", "iso", "keys", "lla", "resolve", "ssh", "write"]);
    for (const a of added) {
      expect(a).toMatchObject({ lazy: true });
      expect(a.description?.length).toBeGreaterThan(10);
    }
    // collectCommands loads nothing either.
    const entries = collectCommands(flk);
    expect([...entries.keys()]).toContain("dd");
  });
});

describe("what plugins see", () => {
  test("no plugin registry, no options reader and no config of every plugin on the flk a plugin gets; no plugin reads another plugin's options", async () => {
    let seen: Record<string, unknown> | undefined;
    const probe = definePlugin({ name: "probe", description: "", options: {}, apply: (flk) => void (seen = flk as unknown as Record<string, unknown>) });
    testFlk({ plugins: [probe], cwd: "/" });
    expect(seen).toBeDefined();
    for (const member of ["registry", "options", "config"]) expect(member in seen!).toBe(false);
    const { Glob } = await import("bun");
    const root = new URL("../../plugins/", import.meta.url).pathname;
    for await (const file of new Glob("*/**/*.ts").scan(root)) {
      const own = file.split("/")[0]!;
      const text = await Bun.file(root + file).text();
      expect(`${file}: ${text.match(/flk\.(options|config|registry)\b/)?.[0]}`).toBe(`${file}: undefined`);
    }
  });

  test("no plugin imports another plugin: a plugin's relative imports stay in its folder or are core/index.ts, the public surface", async () => {
    const { Glob } = await import("bun");
    const { dirname, resolve, relative } = await import("node:path");
    const repo = new URL("../../", import.meta.url).pathname;
    const strays: string[] = [];
    let seen = 0;
    for await (const file of new Glob("plugins/*/**/*.ts").scan(repo)) {
      const own = file.split("/").slice(0, 2).join("/") + "/";
      const text = await Bun.file(repo + file).text();
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*)["'](\.[^"']+)["']/g)) {
        seen++;
        const target = relative(repo, resolve(dirname(repo + file), m[1]!));
        if (!target.startsWith(own) && target !== "core/index.ts") strays.push(`${file} imports ${target}`);
      }
    }
    expect(seen).toBeGreaterThan(100);
    expect(strays).toEqual([]);
  });
});
