/**
 * core/reach.ts: the host is checked before any locator runs; locators race
 * (all start at once, the lowest stage preferred, a silent preferred one
 * waited for only PREFER_MS); a locator that throws does not stop the others.
 * Stand-in locators record their calls.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testFlk } from "../helpers/flk.ts";
import { FlkError, PREFER_MS, definePlugin, liveInstaller, locate, parseTarget, reach, sshFlags, type Endpoint, type Flk } from "../../core/index.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "flk-reach-"));
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
  mkdirSync(join(root, "hosts"));
  writeFileSync(join(root, "hosts/NixOS.nix"), "{ }\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

interface StandIn {
  name: string;
  stage?: number;
  /** Answer after this many ms (undefined: answer nothing after `ms`). */
  ms: number;
  answer?: Endpoint;
  fail?: Error;
}

function flkWith(standIns: StandIn[], calls: string[]): Flk {
  const plugins = standIns.map((s) =>
    definePlugin({
      name: s.name,
      description: "stand-in locator",
      options: {},
      apply(flk) {
        flk.hooks.locate.tapPromise({ name: s.name, stage: s.stage ?? 0 }, async (query) => {
          calls.push(`${s.name} start`);
          await new Promise<void>((done) => {
            const timer = setTimeout(done, s.ms);
            query.signal.addEventListener("abort", () => (clearTimeout(timer), calls.push(`${s.name} aborted`), done()), { once: true });
          });
          if (s.fail) throw s.fail;
          return query.signal.aborted ? undefined : s.answer;
        });
        flk.hooks.sshOptions.tapPromise(s.name, async (options, target) => [...options, "-o", `Pinned=${target.host}`]);
      },
    }),
  );
  return testFlk({ plugins, cwd: root });
}

const mdns = (address = "192.0.2.7"): Endpoint => ({ address, family: 4, source: "mdns" });
const fe80 = (): Endpoint => ({ address: "fe80::47", scope: "veth0", family: 6, source: "static" });
const request = (flk: Flk) => ({ host: "NixOS", live: liveInstaller(flk, "NixOS"), timeoutMs: 3000, tried: [] as string[] });

test("all locators start at once; a later mDNS answer within the window beats an earlier fe80::47 answer", async () => {
  const calls: string[] = [];
  const flk = flkWith([{ name: "lla", ms: 10, answer: fe80() }, { name: "mdns", stage: -10, ms: 60, answer: mdns() }], calls);
  const endpoint = await locate(flk, request(flk));
  expect(endpoint?.source).toBe("mdns");
  expect(calls.slice(0, 2).sort()).toEqual(["lla start", "mdns start"]);
});

test("when mDNS stays silent, the fe80::47 answer is used after the preference window, not after mDNS's budget", async () => {
  const calls: string[] = [];
  const flk = flkWith([{ name: "mdns", stage: -10, ms: 3000 }, { name: "lla", ms: 10, answer: fe80() }], calls);
  const started = performance.now();
  const endpoint = await locate(flk, request(flk));
  const ms = performance.now() - started;
  expect(endpoint?.source).toBe("static");
  expect(ms).toBeGreaterThanOrEqual(PREFER_MS - 5);
  expect(ms).toBeLessThan(PREFER_MS + 200);
  expect(calls).toContain("mdns aborted"); // the loser is stopped, not left running
});

test("when mDNS has finished with nothing, the other answer is taken at once", async () => {
  const calls: string[] = [];
  const flk = flkWith([{ name: "mdns", stage: -10, ms: 5 }, { name: "lla", ms: 30, answer: fe80() }], calls);
  const started = performance.now();
  expect((await locate(flk, request(flk)))?.source).toBe("static");
  expect(performance.now() - started).toBeLessThan(PREFER_MS);
});

test("a locator that throws (a name mdns refuses) is recorded and does not skip the others", async () => {
  const calls: string[] = [];
  const refused = new FlkError("expected a host name like NixOS", "E_MDNS_NAME", 2);
  const flk = flkWith([{ name: "mdns", stage: -10, ms: 0, fail: refused }, { name: "lla", ms: 20, answer: fe80() }], calls);
  const query = request(flk);
  expect((await locate(flk, query))?.source).toBe("static");
  expect(query.tried).toEqual(["mdns: failed: expected a host name like NixOS"]);
});

test("nothing found by anyone: undefined, and a refusal explains more than 'not found'", async () => {
  const flk = flkWith([{ name: "mdns", stage: -10, ms: 0 }, { name: "lla", ms: 0 }], []);
  expect(await locate(flk, request(flk))).toBeUndefined();
  const refusing = flkWith([{ name: "lla", ms: 0, fail: new FlkError("there is no interface 'eth9'", "E_LLA_IFACE", 2) }], []);
  await expect(locate(refusing, request(refusing))).rejects.toMatchObject({ code: "E_LLA_IFACE" });
});

test("reach checks the host before any locator runs, then returns destination and pinned options", async () => {
  const calls: string[] = [];
  const flk = flkWith([{ name: "lla", ms: 0, answer: fe80() }], calls);
  await expect(reach(flk, undefined, { target: "Nixos", timeoutMs: 100 })).rejects.toMatchObject({ code: "E_UNKNOWN_HOST", exitCode: 2 });
  expect(calls).toEqual([]);
  const reached = await reach(flk, undefined, { target: "NixOS.local", timeoutMs: 100, sshArgs: ["-p", "2222"] });
  expect(reached.destination).toBe("nixos@fe80::47%veth0");
  expect(reached.options).toEqual(["-o", "Pinned=NixOS", "-p", "2222"]);
});

test("a literal address needs no locator and no site host; a bare link-local one needs its interface", async () => {
  const calls: string[] = [];
  const flk = flkWith([{ name: "lla", ms: 0, answer: fe80() }], calls);
  const literal = await reach(flk, undefined, { target: "root@[FE80:0::47%eth0]", timeoutMs: 100 });
  expect(literal.destination).toBe("root@fe80::47%eth0");
  // No site host: reach still asks the sshOptions taps, with host "" (ssh-keys refuses or warns there, for ssh and install alike).
  expect(literal.options).toEqual(["-o", "Pinned="]);
  expect((await reach(flk, "NixOS", { target: "192.0.2.9", timeoutMs: 100 })).options).toEqual(["-o", "Pinned=NixOS"]);
  await expect(reach(flk, undefined, { target: "fe80::47", timeoutMs: 100 })).rejects.toMatchObject({ code: "E_TARGET", exitCode: 2 });
  expect(calls).toEqual([]);
});

test("users are validated like --target's (no option-looking user reaches ssh's argv)", async () => {
  const flk = flkWith([], []);
  for (const user of ["-oProxyCommand=touch x", "a b", "", "x".repeat(40)])
    await expect(reach(flk, undefined, { target: "192.0.2.9", user, timeoutMs: 100 })).rejects.toMatchObject({ code: "E_TARGET", exitCode: 2 });
  expect(() => parseTarget("-oProxyCommand=x@192.0.2.9")).toThrow(/expected a user name/);
});

test("-i/-p/-J become ssh options, checked at the edge (flk ssh and flk install --target share them)", () => {
  expect(sshFlags({ identity: "/k/id", port: "2222", jump: "admin@gw" })).toEqual(["-i", "/k/id", "-p", "2222", "-J", "admin@gw"]);
  expect(sshFlags({})).toEqual([]);
  for (const bad of [{ port: "0" }, { port: "70000" }, { port: "22x" }, { identity: "-oProxyCommand=x" }, { jump: "-oProxyCommand=x" }, { jump: "a b" }])
    expect(() => sshFlags(bad)).toThrow(FlkError);
});
