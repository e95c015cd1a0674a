/**
 * flk ssh's plan: locate, then sshOptions, then `ssh OPTS user@addr%scope ARGS`.
 * The locator here is a stand-in test plugin (mdns/ipv6-lla are other plugins).
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Endpoint, Flk, LocateQuery } from "../../../core/index.ts";
import { planSsh, splitSshArgs } from "../../../plugins/ssh-keys/ssh.ts";
import { makeFlk, makeSite } from "./helpers.ts";

let site: ReturnType<typeof makeSite>;
beforeEach(() => {
  site = makeSite();
  mkdirSync(join(site.root, "hosts"));
  writeFileSync(join(site.root, "hosts/NixOS.nix"), "{ }\n");
});
afterEach(() => site.cleanup());

/** A stand-in locator plugin that records calls and answers with `answer`. */
function standInLocator(calls: string[], answer?: Endpoint) {
  return {
    name: "test-stand-in-locator",
    apply(flk: Flk) {
      flk.hooks.locate.tapPromise("test-stand-in-locator", async (query: LocateQuery) => {
        calls.push(`locate ${query.host} ${query.timeoutMs}`);
        query.tried.push("stand-in: nothing configured");
        return answer;
      });
      flk.hooks.sshOptions.tapPromise("test-stand-in-locator", async (options, target) => {
        calls.push(`sshOptions ${target.user}@${target.endpoint.address}`);
        return [...options, "-o", "BatchMode=yes"];
      });
    },
  };
}

test("locates, collects ssh options, then builds ssh OPTS user@fe80::…%scope ARGS", async () => {
  const calls: string[] = [];
  // pinHostKey off: this is the plan's shape (pinning is iso.test.ts's and ssh-keys-pinned-only's).
  const flk = makeFlk(site.root, { pinHostKey: false }, [standInLocator(calls, { address: "fe80::47", scope: "veth0", family: 6, source: "static" })]);
  const plan = await planSsh(flk, { host: "NixOS", user: "root", timeoutMs: 500, args: ["-i", "key", "uname", "-a"] });
  expect(calls).toEqual(["locate NixOS 500", "sshOptions root@fe80::47"]);
  // ssh options before `--`, the destination right after it, then the remote command: no user or host can pass for an option.
  expect(plan.argv).toEqual(["ssh", "-o", "BatchMode=yes", "-i", "key", "--", "root@fe80::47%veth0", "uname", "-a"]);
});

test("an IPv4 or global address has no scope suffix", async () => {
  const flk = makeFlk(site.root, { pinHostKey: false }, [standInLocator([], { address: "192.0.2.7", family: 4, source: "mdns" })]);
  expect((await planSsh(flk, { host: "NixOS", user: "nixos", timeoutMs: 500, args: [] })).argv.at(-1)).toBe("nixos@192.0.2.7");
});

test("no address found is exit 1 listing what each locator tried", async () => {
  const flk = makeFlk(site.root, {}, [standInLocator([])]);
  const error = await planSsh(flk, { host: "NixOS", user: "nixos", timeoutMs: 500, args: [] }).catch((e) => e);
  expect(error.exitCode).toBe(1);
  expect(error.message).toContain("could not find the live installer of NixOS");
  expect(error.message).toContain("  - stand-in: nothing configured");
});

test("a wrong-case host is refused (exit 2) before any locator runs", async () => {
  const calls: string[] = [];
  const flk = makeFlk(site.root, {}, [standInLocator(calls, { address: "fe80::47", scope: "veth0", family: 6, source: "static" })]);
  const error = await planSsh(flk, { host: "Nixos", user: "nixos", timeoutMs: 500, args: [] }).catch((e) => e);
  expect(error.exitCode).toBe(2);
  expect(error.message).toContain("Did you mean `NixOS`?");
  expect(calls).toEqual([]);
});

test("ARGS are split the way ssh's getopt reads them: options (with their values) first, the command from the first word", async () => {
  expect(splitSshArgs(["-p", "2222", "-vJ", "jump", "-oBatchMode=yes", "-t", "uname", "-a"])).toEqual({ options: ["-p", "2222", "-vJ", "jump", "-oBatchMode=yes", "-t"], command: ["uname", "-a"] });
  expect(splitSshArgs(["-i", "k", "--", "-x"])).toEqual({ options: ["-i", "k"], command: ["-x"] });
});

test("--user is validated like --target's user, before any locator runs", async () => {
  const calls: string[] = [];
  const flk = makeFlk(site.root, {}, [standInLocator(calls, { address: "fe80::47", scope: "veth0", family: 6, source: "static" })]);
  const error = await planSsh(flk, { host: "NixOS", user: "-oProxyCommand=touch /tmp/pwned", timeoutMs: 500, args: [] }).catch((e) => e);
  expect([error.exitCode, error.code]).toEqual([2, "E_TARGET"]);
  expect(calls).toEqual([]);
});
