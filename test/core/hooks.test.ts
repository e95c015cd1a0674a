import { describe, expect, test } from "bun:test";
import { createFlk, type Flk } from "../../core/context.ts";
import { baseLiveInstaller, definePlugin, locate, type IsoModule, type Step } from "../../core/index.ts";

const noConfig = { file: undefined, enabled: ["alpha", "beta"], options: { alpha: {}, beta: {} } };

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
        flk.hooks.installSteps.tapPromise(name, async (steps: Step[]) => {
          order.push(`${name}:installSteps`);
          return [...steps, { id: name, title: name, argv: ["true"] }];
        });
        flk.hooks.beforeWrite.tapPromise(name, async () => void order.push(`${name}:beforeWrite`));
      },
    });
  return [make("alpha"), make("beta")];
}

describe("hooks", () => {
  test("taps of two plugins run in plugin order, and a waterfall passes each result on", async () => {
    const order: string[] = [];
    const flk = createFlk({ plugins: recordingPlugins(order), config: noConfig });
    flk.hooks.commands.call({ add() {} });
    const module = await flk.hooks.isoModule.promise({ imports: [], settings: {}, files: [], notes: [] }, { host: "NixOS", siteRoot: "/x" });
    const steps = await flk.hooks.installSteps.promise([], {
      host: "NixOS", flake: "/x#NixOS", root: "/mnt", labels: {}, uefi: false, storeOverlay: false, impure: false, extraArgs: [],
    });
    await flk.hooks.beforeWrite.promise({ image: "a", device: "b", bytes: 1 });
    expect(order).toEqual([
      "alpha:commands", "beta:commands",
      "alpha:isoModule", "beta:isoModule",
      "alpha:installSteps", "beta:installSteps",
      "alpha:beforeWrite", "beta:beforeWrite",
    ]);
    expect(module.notes).toEqual(["alpha", "beta"]);
    expect(steps.map((s) => s.id)).toEqual(["alpha", "beta"]);
  });

  test("locate starts every tap and takes the answer", async () => {
    const order: string[] = [];
    const flk = createFlk({ plugins: recordingPlugins(order), config: { ...noConfig, enabled: ["beta", "alpha"] } });
    const request = { host: "NixOS", live: baseLiveInstaller("NixOS"), timeoutMs: 10, tried: [] as string[] };
    const endpoint = await locate(flk, request);
    expect(endpoint?.source).toBe("beta");
    expect(request.tried).toEqual(["beta", "alpha"]);
    expect(order).toEqual(["beta:locate", "alpha:locate"]);
  });

  test("a disabled plugin taps nothing", async () => {
    const order: string[] = [];
    const flk = createFlk({ plugins: recordingPlugins(order), config: { ...noConfig, enabled: ["alpha"] } });
    const request = { host: "NixOS", live: baseLiveInstaller("NixOS"), timeoutMs: 10, tried: [] as string[] };
    expect(await locate(flk, request)).toBeUndefined();
    expect(request.tried).toEqual(["alpha"]);
  });

  test("the hook set is frozen", () => {
    const flk = createFlk({ plugins: [], config: { enabled: [], options: {} } });
    expect(Object.isFrozen(flk.hooks)).toBe(true);
  });
});
