import { describe, expect, test } from "bun:test";
import { definePlugin, ownOptions, PluginRegistry, validateOptions, defaultOptions } from "../../core/plugin.ts";
import { testFlk } from "../helpers/flk.ts";
import { refusal } from "../helpers/refusal.ts";

const schema = {
  backend: { type: "string", default: "resolved", enum: ["resolved", "avahi"], description: "" },
  verify: { type: "boolean", default: true, description: "" },
  timeout: { type: "number", default: 2000, integer: true, min: 1, description: "" },
  users: { type: "string[]", default: ["nixos"], description: "" },
  labels: { type: "table", default: { root: "nixos", boot: "boot" }, description: "" },
} as const;

const plugin = (name: unknown) => definePlugin({ name: name as string, description: "", options: {}, apply() {} });

describe("plugin registry", () => {
  test("definePlugin returns its argument", () => {
    const p = plugin("x");
    expect(definePlugin(p)).toBe(p);
  });
  test("refuses a plugin without a name", () => {
    const e = refusal(() => new PluginRegistry([plugin(undefined)]));
    expect(e.message).toContain("no valid name");
    expect(e.exitCode).toBe(2);
  });
  test("refuses two plugins with one name", () => {
    expect(refusal(() => new PluginRegistry([plugin("a"), plugin("a")])).message).toBe("two plugins are named 'a'");
  });
  test("an unknown plugin name gets a did-you-mean", () => {
    const r = new PluginRegistry([plugin("ssh-keys"), plugin("mdns")]);
    const e = refusal(() => r.require("ssh-key", "flk.toml: plugins"));
    expect(e.message).toContain("unknown plugin 'ssh-key'. Did you mean `ssh-keys`?");
  });
});

describe("option validation", () => {
  test("fills defaults and keeps given values", () => {
    const o = validateOptions(schema, { backend: "avahi", labels: { boot: "ESP" } }, "flk.toml: [x]");
    expect(o).toEqual({ backend: "avahi", verify: true, timeout: 2000, users: ["nixos"], labels: { root: "nixos", boot: "ESP" } });
  });
  test("defaults are copies, not shared", () => {
    const a = defaultOptions(schema);
    a.users.push("root");
    expect(defaultOptions(schema).users).toEqual(["nixos"]);
  });
  test("unknown key: did-you-mean and the known keys", () => {
    const e = refusal(() => validateOptions(schema, { verfy: false }, "flk.toml: [dd-writer]"));
    expect(e.message).toBe("flk.toml: [dd-writer]: unknown key 'verfy'. Did you mean `verify`? Known keys: backend, verify, timeout, users, labels.");
  });
  test("wrong type: key, expected and actual type", () => {
    expect(refusal(() => validateOptions(schema, { verify: "yes" }, "f: [p]")).message).toBe('f: [p].verify: expected a boolean (true or false), got a string ("yes")');
    expect(refusal(() => validateOptions(schema, { users: "nixos" }, "f: [p]")).message).toBe('f: [p].users: expected a list of strings, got a string ("nixos")');
    expect(refusal(() => validateOptions(schema, { timeout: 1.5 }, "f: [p]")).message).toBe("f: [p].timeout: expected an integer, got a number (1.5)");
    expect(refusal(() => validateOptions(schema, { labels: { root: 1 } }, "f: [p]")).message).toBe("f: [p].labels.root: expected a string, got a number (1)");
  });
  test("enum and range violations name the allowed values", () => {
    expect(refusal(() => validateOptions(schema, { backend: "avahii" }, "f: [p]")).message).toContain('expected one of "resolved", "avahi", got "avahii". Did you mean `avahi`?');
    expect(refusal(() => validateOptions(schema, { timeout: 0 }, "f: [p]")).message).toContain("expected a number from 1 to ∞, got 0");
    expect(refusal(() => validateOptions(schema, { labels: { rot: "x" } }, "f: [p]")).message).toContain("unknown key 'rot'. Did you mean `root`?");
  });
});

describe("a plugin's own options (ownOptions)", () => {
  const own = ownOptions({
    depth: { type: "number", default: 3, description: "" },
    mode: { type: "string", default: "a", enum: ["a", "b"], description: "" },
    labels: { type: "table", default: { root: "nixos", boot: "boot" }, description: "" },
  });
  const plugin = definePlugin({ name: "owner", description: "", options: own.schema, apply: (flk, options) => own.keep(flk, options) });

  test("what apply() received, per flk instance, typed from the schema", () => {
    const one = testFlk({ plugins: [plugin], cwd: "/", options: { owner: { depth: 7, mode: "b" } } });
    const two = testFlk({ plugins: [plugin], cwd: "/", options: { owner: { depth: 1 } } });
    const depth: number = own.of(one).depth;
    const mode: "a" | "b" = own.of(one).mode;
    // A table's keys are the default's: `.root` needs no cast (tsc checks this file).
    const root: string = own.of(one).labels.root;
    expect([depth, mode, root]).toEqual([7, "b", "nixos"]);
    expect(own.of(two)).toEqual({ depth: 1, mode: "a", labels: { root: "nixos", boot: "boot" } });
  });

  test("a flk the plugin was not applied to (switched off) has none: an internal error, not a default", () => {
    const off = testFlk({ plugins: [plugin], cwd: "/", enabled: [] });
    // @ts-expect-error a table has only its default's keys
    void (() => own.of(off).labels.swap);
    const e = refusal(() => own.of(off));
    expect([e.code, e.exitCode]).toEqual(["E_INTERNAL", 1]);
  });
});
