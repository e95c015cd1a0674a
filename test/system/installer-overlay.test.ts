/**
 * The compiled binary end to end: a real mount / store-overlay / umount
 * cycle over the REAL /nix/store, inside a private mount namespace
 * (`unshare -m --propagation private`) so the overlay is invisible to the
 * rest of the machine (other nix tests run concurrently), and a refusal.
 */
import { afterEach, expect } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { FLK, flk } from "../helpers/binary.ts";
import { createMachine, sh, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["unshare", "losetup", "mkfs.ext4", "mkswap", "blkid", "findmnt", "mount", "swapon"]);

let machine: Machine | undefined;
afterEach(async () => {
  await machine?.cleanup();
  machine = undefined;
});

function writeConfig(m: Machine): void {
  const labels = `{ root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }`;
  writeFileSync(join(m.site, "flk.toml"), `[installer]\nroot = "${m.root}"\nlabels = ${labels}\n`);
}

/** The store overlay as the machine outside the namespace sees it. */
async function outsideOverlay(m: Machine): Promise<string> {
  return (await sh(["findmnt", "-rn", "-M", "/nix/store", "-t", "overlay", "-O", `upperdir=${m.root}/tmpstore/store`])).stdout;
}

test("compiled flk install --store-overlay in a private mount namespace: mounts, overlays the real /nix/store for the stand-in nixos-install, is idempotent, and --undo leaves nothing mounted", async () => {
  machine = await createMachine();
  const m = machine;
  await m.disk("ext4", m.labels.root);
  await m.disk("ext4", m.labels.boot);
  writeConfig(m);
  const out = (name: string) => join(m.dir, name);
  // One namespace for the whole cycle: its mounts vanish with it.
  const cycle = [
    "export NO_COLOR=1",
    `cd '${m.site}'`,
    `'${FLK}' install NixOS --store-overlay --json >'${out("run1.json")}' 2>'${out("run1.err")}'; echo $? >'${out("run1.rc")}'`,
    `'${FLK}' install NixOS --store-overlay --json >'${out("run2.json")}' 2>'${out("run2.err")}'; echo $? >'${out("run2.rc")}'`,
    `findmnt -rn -o TARGET | grep -F '${m.dir}' >'${out("mounted")}'`,
    `findmnt -rn -M /nix/store -t overlay -O 'upperdir=${m.root}/tmpstore/store' >'${out("overlay")}'`,
    `'${FLK}' install --undo --json >'${out("undo.json")}' 2>'${out("undo.err")}'; echo $? >'${out("undo.rc")}'`,
    `findmnt -rn -o TARGET | grep -F '${m.dir}' >'${out("after")}'`,
    `findmnt -rn -M /nix/store -t overlay -O 'upperdir=${m.root}/tmpstore/store' >'${out("overlay-after")}'`,
  ].join("\n");
  const ns = await sh(["unshare", "-m", "--propagation", "private", "env", `PATH=${m.bin}:${process.env.PATH}:/usr/sbin:/sbin`, "sh", "-c", cycle]);
  expect(ns.stderr).toBe("");
  const read = (name: string) => readFileSync(out(name), "utf8");
  expect([read("run1.rc"), read("run2.rc"), read("undo.rc")].map(Number)).toEqual([0, 0, 0]);
  const run1 = JSON.parse(read("run1.json")) as { steps: Array<{ id: string; status: string }> };
  expect(run1.steps.map((s) => [s.id, s.status])).toEqual([
    ["mkdir-root", "ran"], ["mount-root", "ran"], ["mkdir-boot", "ran"], ["mount-boot", "ran"], ["store-dirs", "ran"], ["store-overlay", "ran"], ["nixos-install", "ran"],
  ]);
  const run2 = JSON.parse(read("run2.json")) as { steps: Array<{ id: string; status: string }> };
  expect(run2.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["nixos-install"]);
  // While the stand-in ran, /nix/store was the overlay with its upper layer on the target disk.
  const calls = m.calls();
  expect(calls.length).toBe(2);
  for (const call of calls) {
    expect(call.storeOverlay).toContain("lowerdir=/nix/store");
    expect(call.storeOverlay).toContain(`upperdir=${m.root}/tmpstore/store`);
    expect(call.argv).toEqual(["--flake", `${m.site}#NixOS`, "--root", m.root]);
  }
  expect(read("mounted").trim().split("\n").sort()).toEqual([m.root, `${m.root}/boot`]);
  expect(read("overlay")).toContain("/nix/store");
  const undo = JSON.parse(read("undo.json")) as { steps: Array<{ id: string; status: string }> };
  expect(undo.steps.filter((s) => s.status === "ran").map((s) => s.id)).toEqual(["mount-root", "mount-boot", "store-overlay"]);
  expect(read("after")).toBe("");
  expect(read("overlay-after")).toBe("");
  // Outside the namespace nothing was ever visible.
  expect(await outsideOverlay(m)).toBe("");
  expect(await m.mounted()).toEqual([]);
});

test("compiled flk install refuses a label on two devices with exit 2 and the devices named (stand-in nixos-install)", async () => {
  machine = await createMachine();
  const m = machine;
  const a = await m.disk("ext4", m.labels.root);
  const b = await m.disk("ext4", m.labels.root);
  writeConfig(m);
  const r = await flk(["install", "NixOS"], { cwd: m.site, env: { PATH: `${m.bin}:${process.env.PATH}:/usr/sbin:/sbin` } });
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`the label '${m.labels.root}' (root) is on 2 devices`);
  expect(r.stderr).toContain(a);
  expect(r.stderr).toContain(b);
  expect(r.stderr).toContain("Nothing was mounted or changed.");
  expect(await m.mounted()).toEqual([]);
  expect(m.calls()).toEqual([]);
});

/** A live (non-zombie) process with this pid. */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("compiled flk install interrupted by SIGINT while the slow stand-in nixos-install runs: exit 130, the stand-in is gone when flk exits, flk says what is mounted and how to undo, and --undo then unmounts", async () => {
  machine = await createMachine();
  const m = machine;
  await m.disk("ext4", m.labels.root);
  writeConfig(m);
  // A slow stand-in: records its pid so the test can end it, then waits.
  const slow = join(m.dir, "slow-bin");
  await sh(["mkdir", "-p", slow]);
  writeFileSync(join(slow, "nixos-install"), `#!/bin/sh\necho $$ > '${m.dir}/standin.pid'\nexec sleep 30\n`);
  await sh(["chmod", "+x", join(slow, "nixos-install")]);
  const env = { ...process.env, NO_COLOR: "1", PATH: `${slow}:${process.env.PATH}:/usr/sbin:/sbin` };
  const child = Bun.spawn([FLK, "install", "NixOS"], { cwd: m.site, env, stdout: "pipe", stderr: "pipe" });
  try {
    const pidFile = join(m.dir, "standin.pid");
    for (let i = 0; i < 200 && !(await Bun.file(pidFile).exists()); i++) await Bun.sleep(25);
    expect(await m.mounted()).toEqual([m.root]);
    const standIn = Number((await Bun.file(pidFile).text()).trim());
    child.kill("SIGINT");
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    expect(code).toBe(130);
    // flk stopped the plan's whole process group and waited: the stand-in (a grandchild) is gone when flk has exited.
    expect(alive(standIn)).toBe(false);
    expect(stderr).toContain("interrupted: the plan on this machine was stopped and has exited");
    expect(stderr).toContain(`Mounted now:\n${m.root}`);
    expect(stderr).toContain("flk install --undo");
  } finally {
    const pid = await Bun.file(join(m.dir, "standin.pid")).text().catch(() => "");
    if (pid.trim()) await sh(["kill", pid.trim()]);
  }
  const undo = await flk(["install", "--undo"], { cwd: m.site, env: { PATH: `${m.bin}:${process.env.PATH}:/usr/sbin:/sbin` } });
  expect(undo.code).toBe(0);
  expect(await m.mounted()).toEqual([]);
}, 30_000);
