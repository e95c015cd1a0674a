import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { collectPaths, mergeSettings, nix, renderKey, renderNix, renderString, type NixValue } from "../../core/nix.ts";
import { systemTest } from "../helpers/require.ts";
import { evalNix } from "../helpers/nix.ts";

/** A small deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces that stress the escaper: quotes, backslashes, interpolation starts,
// `''` (indented-string syntax), newlines, tabs, control characters, non-ASCII.
const PIECES = ['"', "\\", "${", "$", "{", "}", "''", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "é", "ß", "日本", "🦀", "nixos", " ", "a.b", "-", "'", "$${", "\\${", "or", "in"];
const KEYS = ["a", "_x", "foo-bar", "it's", "a.b", "en* wl*", "", "1st", "or", "let", "rec", "true", "null", "${x}", "ssh/ssh_host_ed25519_key", "日本", "with space", "x\ny", '"q"'];

function randomString(rand: () => number): string {
  let s = "";
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) s += rand() < 0.7 ? PIECES[Math.floor(rand() * PIECES.length)] : String.fromCharCode(32 + Math.floor(rand() * 95));
  return s;
}

function randomValue(rand: () => number, depth: number): NixValue {
  const r = rand();
  if (depth > 3 || r < 0.45) {
    const k = Math.floor(rand() * 5);
    if (k === 0) return randomString(rand);
    if (k === 1) return Math.floor((rand() - 0.5) * 2 ** (1 + Math.floor(rand() * 52)));
    if (k === 2) return rand() < 0.5;
    if (k === 3) return null;
    return randomString(rand);
  }
  if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const out: Record<string, NixValue> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--) out[rand() < 0.5 ? KEYS[Math.floor(rand() * KEYS.length)]! : randomString(rand)] = randomValue(rand, depth + 1);
  return out;
}

const withNix = systemTest(["nix-instantiate"], { root: false });

describe("Nix renderer", () => {
  test("strings escape quotes, backslashes, interpolation and newlines; keep non-ASCII", () => {
    expect(renderString('say "hi" \\ ${x} $y\n\t')).toBe('"say \\"hi\\" \\\\ \\${x} $y\\n\\t"');
    expect(renderString("日本 🦀")).toBe('"日本 🦀"');
    expect(() => renderString("a\0b")).toThrow("NUL");
  });
  test("attribute names are quoted only when they must be", () => {
    expect(renderKey("foo-bar")).toBe("foo-bar");
    expect(renderKey("_x'")).toBe("_x'");
    for (const k of ["1st", "a.b", "en* wl*", "", "or", "let", "in", "ssh/key"]) expect(renderKey(k)).toBe(renderString(k));
  });
  test("raw expressions and negative numbers are parenthesised", () => {
    expect(renderNix([nix.raw("lib.mkForce true"), -5, 3], { indent: "" })).toBe("[ (lib.mkForce true) (-5) 3 ]");
    expect(renderNix({ a: { b: nix.mkDefault("x") } }, { indent: "" })).toBe('{ a = { b = (lib.mkDefault "x"); }; }');
  });
  test("site paths reject escapes and are collected", () => {
    expect(() => nix.path("/etc/passwd")).toThrow("inside the site");
    expect(() => nix.path("secrets/../../x")).toThrow("inside the site");
    expect(collectPaths({ a: [nix.path("./secrets/keys/a.pub")], b: { c: nix.path("x") } })).toEqual(["secrets/keys/a.pub", "x"]);
  });
  test("merging concatenates lists, merges attrs, and refuses conflicting scalars", () => {
    const merged = mergeSettings({ a: { b: [1], c: "x" } }, { a: { b: [2], d: true, c: "x" } });
    expect(merged).toEqual({ a: { b: [1, 2], c: "x", d: true } });
    expect(() => mergeSettings({ a: { c: "x" } }, { a: { c: "y" } })).toThrow('two plugins set `a.c` differently ("x" and "y")');
  });

  withNix("10000 random values rendered and evaluated by the real nix equal the input", async () => {
    const rand = prng(0x5eed);
    const values = Array.from({ length: 10000 }, () => randomValue(rand, 0));
    // One evaluation for all of them keeps the test fast; the list itself is rendered too.
    expect(await evalNix(renderNix(values))).toEqual(values as unknown[]);
    // The single-line form must be just as valid.
    expect(await evalNix(renderNix(values.slice(0, 500), { indent: "" }))).toEqual(values.slice(0, 500) as unknown[]);
  });

  withNix("floats, raw expressions and site paths evaluate as intended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flk-site-"));
    try {
      mkdirSync(join(dir, "secrets/keys"), { recursive: true });
      writeFileSync(join(dir, "secrets/keys/alice.pub"), "ssh-ed25519 AAAA alice\n");
      const source = renderNix(
        { floats: [1.5, -0.25, 1e-7, 6.02e23], raw: nix.raw("builtins.add 1 2"), key: nix.raw(`builtins.readFile ${renderNix(nix.path("secrets/keys/alice.pub"), { pathBase: JSON.stringify(dir) })}`) },
      );
      const value = (await evalNix(source)) as { floats: number[]; raw: number; key: string };
      expect(value.raw).toBe(3);
      expect(value.key).toBe("ssh-ed25519 AAAA alice\n");
      value.floats.forEach((f, i) => expect(f).toBeCloseTo([1.5, -0.25, 1e-7, 6.02e23][i]!, 5));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
