/**
 * A plugin's own hooks, tapped from outside (STYLE.md §2): a seventh plugin,
 * defined here and importing only core and the owner's hooks.ts, inserts a
 * step into `flk install --dry-run`'s plan through
 * `installerHooks(flk).installSteps`, and refuses a write through
 * `writerHooks(flk).beforeWrite`, proven by the device's sha256 (real loop
 * devices; the installer's machine has a recording stand-in nixos-install,
 * test/plugins/installer/fixtures.ts).
 */
import { afterEach, expect } from "bun:test";
import { definePlugin, FlkError } from "../../core/index.ts";
import { installerHooks, type Step } from "../../plugins/installer/hooks.ts";
import { writerHooks } from "../../plugins/dd-writer/hooks.ts";
import ddWriter from "../../plugins/dd-writer/index.ts";
import { install } from "../../plugins/installer/install.ts";
import { writeImage } from "../../plugins/dd-writer/write-image.ts";
import { systemTest } from "../helpers/require.ts";
import { testFlk } from "../helpers/flk.ts";
import { refusal } from "../helpers/refusal.ts";
import { createMachine, machineFlk, withPath, type Machine } from "../plugins/installer/fixtures.ts";
import { randomBytes, Scratch, sha256Of, writeFile } from "../plugins/dd-writer/helpers.ts";

const test = systemTest(["losetup", "mkfs.ext4", "blkid", "findmnt", "mount", "sha256sum", "nix"]);
process.env.NIX_CONFIG = "substituters =";

const undo: Array<() => unknown> = [];
afterEach(async () => {
  for (const u of undo.splice(0).reverse()) await u();
});

/** An outside plugin: it taps the installer's plan and dd-writer's lifecycle, recording what it saw. */
function outsider(seen: string[]) {
  return definePlugin({
    name: "outsider",
    description: "test only: a seventh plugin tapping installer's and dd-writer's own hooks",
    options: {},
    apply(flk) {
      installerHooks(flk).installSteps.tapPromise("outsider", async (steps, install) => {
        seen.push(`installSteps ${install.host}`);
        const at = steps.findIndex((s) => s.id === "nixos-install");
        const mine: Step = { id: "outsider-note", title: "outsider says hello", argv: ["echo", "outsider-was-here"] };
        return [...steps.slice(0, at), mine, ...steps.slice(at)];
      });
      writerHooks(flk).beforeWrite.tapPromise("outsider", async (write) => {
        seen.push(`beforeWrite ${write.device} ${write.bytes}`);
        throw new FlkError(`outsider refuses ${write.device}. Nothing was written.`, "E_OUTSIDER", 2);
      });
    },
  });
}

test("an outside plugin's installSteps tap puts its step in flk install --dry-run's plan and script, before nixos-install; nothing is mounted", async () => {
  const m: Machine = await createMachine();
  undo.push(() => m.cleanup());
  await m.disk("ext4", m.labels.root);
  const seen: string[] = [];
  const report = await withPath(m.bin, () => install(machineFlk(m, [outsider(seen)]), { host: "NixOS", dryRun: true }));
  expect(seen).toEqual(["installSteps NixOS"]);
  const ids = report.steps.map((s) => s.id);
  expect(ids).toContain("outsider-note");
  expect(ids.indexOf("outsider-note")).toBe(ids.indexOf("nixos-install") - 1);
  expect(report.steps.find((s) => s.id === "outsider-note")).toMatchObject({ status: "planned", argv: ["echo", "outsider-was-here"] });
  expect(report.script).toContain("echo outsider-was-here");
  expect(await m.mounted()).toEqual([]);
  expect(m.calls()).toEqual([]);
}, 60_000);

test("an outside plugin's beforeWrite tap refuses flk write: its error stops the write and the device's bytes are unchanged", async () => {
  const s = new Scratch();
  undo.push(() => s.cleanup());
  const image = writeFile(s.path("x.iso"), randomBytes(100000));
  const { device } = s.loop(1 << 20);
  const before = sha256Of(device);
  const seen: string[] = [];
  const flk = testFlk({ plugins: [ddWriter, outsider(seen)], flags: { yes: true } });
  const error = await refusal(() => writeImage(flk, { image, device, verify: true, force: false }));
  expect([error.code, error.exitCode]).toEqual(["E_OUTSIDER", 2]);
  expect(seen).toEqual([`beforeWrite ${device} 100000`]);
  expect(sha256Of(device)).toBe(before);
}, 60_000);
