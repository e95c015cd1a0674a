/** `flk install HOST`: thin — parse arguments, call install(), print. */
import { defineCommand, type Flk } from "../../core/index.ts";
import { install, type InstallReport } from "./install.ts";
import { shJoin } from "./script.ts";

/** The citty command. */
export function installCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "install", description: "Mount by label, overlay the store, nixos-install --flake SITE#HOST (here or --target over ssh)" },
    args: {
      host: { type: "positional", required: false, description: "The host to install (nixosConfigurations.HOST); not needed with --undo", valueHint: "HOST" },
      target: { type: "string", description: "Install on a live installer over ssh: USER@ADDRESS, or a name found by mDNS / fe80::47", valueHint: "USER@ADDR" },
      "dry-run": { type: "boolean", description: "Check everything and print the plan; run nothing" },
      script: { type: "boolean", description: "Print the generated POSIX shell script and exit (implies --dry-run)" },
      undo: { type: "boolean", description: "Unmount and swap off what flk install mounted, in reverse order" },
      impure: { type: "boolean", description: "Pass --impure to nixos-install" },
      "store-overlay": { type: "boolean", description: "Overlay /nix/store onto ROOT/tmpstore (default: only on a live installer)", negativeDescription: "Never overlay the store" },
    },
    async run({ args }) {
      const report = await install(flk, {
        host: args.host as string | undefined,
        target: args.target as string | undefined,
        dryRun: Boolean(args["dry-run"] || args.script),
        undo: Boolean(args.undo),
        impure: Boolean(args.impure),
        storeOverlay: args["store-overlay"] as boolean | undefined,
        extraArgs: flk.passthrough,
      });
      const log = flk.logger("installer");
      for (const warning of report.warnings) log.warn(warning);
      if (args.script) process.stdout.write(report.script);
      else if (flk.flags.json) flk.printJson(report);
      else if (args["dry-run"]) process.stdout.write(formatPlan(report));
      else if (report.mode === "install") log.success(`installed ${report.flake}${report.target ? ` on ${report.target}` : ""}; reboot into it, or \`flk install --undo\` to unmount first`);
      else log.success(`undone: ${report.steps.filter((s) => s.status === "ran").length} step(s) reversed`);
    },
  });
}

/** The human --dry-run output: the plan as numbered commands. */
export function formatPlan(report: InstallReport): string {
  const where = report.target ?? "this machine";
  const lines = [`flk install ${report.host ?? "--undo"} on ${where}: ${report.mode} plan (nothing was run)`];
  for (const [role, d] of Object.entries(report.devices)) lines.push(`  ${role.padEnd(5)} ${d.label} = ${d.path} (${d.type || "unknown type"})`);
  lines.push(`  uefi ${report.uefi ? "yes" : "no"}, store overlay ${report.storeOverlay ? "on" : "off"}`);
  const steps = report.mode === "undo" ? [...report.steps].reverse().filter((s) => s.undo && s.unless) : report.steps;
  steps.forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${step.title}`);
    lines.push(`     ${shJoin(report.mode === "undo" ? step.undo! : step.argv)}`);
    if (step.unless) lines.push(`     ${report.mode === "undo" ? "only when" : "skipped when"}: ${shJoin(step.unless)}`);
  });
  return lines.join("\n") + "\n";
}
