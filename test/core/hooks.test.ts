import { describe, expect, test } from "bun:test";
import type { Flk } from "../../core/context.ts";
import { testFlk } from "../helpers/flk.ts";
import { AsyncSeriesWaterfallHook } from "tapable";
import { baseLiveInstaller, definePlugin, locate, pluginHooks, type IsoModule } from "../../core/index.ts";

/** Two small plugins that record the order in which their taps run. */
function recordingPlugins(order: string[]) {
  const make = (name: string) =>
    definePlugin({
      name,
      description: `test plugin ${name}`,
      options: {},
      apply(flk: Flk) {
        flk.hooks.commands.tap(name, () => void order.push(`${name}:commands`));
        flk.hooks.isoModule.tapPromise(name, async (module: IsoModule) => {
          order.push(`${name}:isoModule`);
          return { ...module, notes: [...module.notes, name] };
        });
        flk.hooks.locate.tapPromise(name, async (query) => {
          order.push(`${name}:locate`);
          query.tried.push(name);
          return name === "beta" ? { address: "fe80::47", scope: "veth0", family: 6, source: name } : undefined;
        });
        flk.hooks.prepareIso.tapPromise(name, async () => void order.push(`${name}:prepareIso`));
      },
    });
  return [make("alpha"), make("beta")];
}

describe("hooks", () => {
  test("taps of two plugins run in plugin order, and a waterfall passes each result on", async () => {
    const order: string[] = [];
    const flk = testFlk({ plugins: recordingPlugins(order) });
    flk.hooks.commands.call({ add() {} });
    const module = await flk.hooks.isoModule.promise({ imports: [], settings: {}, files: [], notes: [] }, { host: "NixOS", siteRoot: "/x" });
    await flk.hooks.prepareIso.promise({ host: "NixOS", siteRoot: "/x" });
    expect(order).toEqual([
      "alpha:commands", "beta:commands",
      "alpha:isoModule", "beta:isoModule",
      "alpha:prepareIso", "beta:prepareIso",
    ]);
    expect(module.notes).toEqual(["alpha", "beta"]);
  });

  test("locate starts every tap and takes the answer", async () => {
    const order: string[] = [];
    const flk = testFlk({ plugins: recordingPlugins(order), enabled: ["beta", "alpha"] });
    const request = { host: "NixOS", live: baseLiveInstaller("NixOS"), timeoutMs: 10, tried: [] as string[] };
    const endpoint = await locate(flk, request);
    expect(endpoint?.source).toBe("beta");
    expect(request.tried).toEqual(["beta", "alpha"]);
    expect(order).toEqual(["beta:locate", "alpha:locate"]);
  });

  test("a disabled plugin taps nothing", async () => {
    const order: string[] = [];
    const flk = testFlk({ plugins: recordingPlugins(order), enabled: ["alpha"] });
    const request = { host: "NixOS", live: baseLiveInstaller("NixOS"), timeoutMs: 10, tried: [] as string[] };
    expect(await locate(flk, request)).toBeUndefined();
    expect(request.tried).toEqual(["alpha"]);
  });

  test("the hook set is frozen", () => {
    const flk = testFlk({ plugins: [] });
    expect(Object.isFrozen(flk.hooks)).toBe(true);
  });
});

describe("a plugin's own hooks (pluginHooks, webpack's getCompilationHooks)", () => {
  // A made-up owner: its hook is declared here, not in core/hooks.ts.
  let made = 0;
  const ownerHooks = pluginHooks(() => {
    made++;
    return { shape: new AsyncSeriesWaterfallHook<[string[]]>(["parts"]) };
  });
  const owner = definePlugin({ name: "owner", description: "test: calls its own hook", options: {}, apply() {} });
  const tapper = (order: string[]) =>
    definePlugin({
      name: "tapper",
      description: "test: taps another plugin's hook",
      options: {},
      apply(flk) {
        ownerHooks(flk).shape.tapPromise("tapper", async (parts) => {
          order.push("tapper:shape");
          return [...parts, "tapper"];
        });
      },
    });

  test("made once per flk instance, on first use, frozen; another plugin's tap is called by the owner", async () => {
    const order: string[] = [];
    made = 0;
    const flk = testFlk({ plugins: [owner, tapper(order)] });
    expect(made).toBe(1);
    expect(ownerHooks(flk)).toBe(ownerHooks(flk));
    expect(Object.isFrozen(ownerHooks(flk))).toBe(true);
    expect(await ownerHooks(flk).shape.promise(["owner"])).toEqual(["owner", "tapper"]);
    expect(order).toEqual(["tapper:shape"]);
    const other = testFlk({ plugins: [owner] });
    expect(made).toBe(1);
    expect(await ownerHooks(other).shape.promise(["owner"])).toEqual(["owner"]);
    expect(made).toBe(2);
    expect(order).toEqual(["tapper:shape"]);
  });

  test("core's hook set names no plugin's own hook, and core's code (comments aside) no plugin's vocabulary", async () => {
    const flk = testFlk({ plugins: [] });
    for (const name of ["installSteps", "beforeWrite", "afterWrite"]) expect(Object.keys(flk.hooks)).not.toContain(name);
    const { Glob } = await import("bun");
    const root = new URL("../../core/", import.meta.url).pathname;
    const words = /\b(Step|InstallContext|WriteContext|installSteps|beforeWrite|afterWrite|xorriso|avahi|nixos-install|flk iso)\b/;
    const found: string[] = [];
    for await (const file of new Glob("**/*.ts").scan(root)) {
      // Comments may say who taps a hook (STYLE.md §2); code, types and tables may not name a plugin's things.
      const code = (await Bun.file(root + file).text()).replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, "")).replace(/(^|\s)\/\/.*$/gm, "$1");
      const lines = code.split("\n");
      for (const [i, line] of lines.entries()) if (words.test(line)) found.push(`core/${file}:${i + 1}: ${line.trim()}`);
    }
    expect(found).toEqual([]);
  });
});
