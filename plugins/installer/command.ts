/** `flk install HOST`: thin — parse arguments, call install(), print. */
import { defineCommand, FlkError, type Flk, sshFlags, SSH_FLAG_ARGS } from "../../core/index.ts";
import { install, type InstallOptions, type InstallReport } from "./install.ts";
import { shJoin } from "./script.ts";
import { parseBoot } from "./disk-command.ts";
import { parseBackend } from "./facter.ts";

/** The citty command. */
export function installCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "install", description: "Mount by label, overlay the store, nixos-install the system the stick carries (--system) or --flake SITE#HOST, here or --target over ssh" },
    args: {
      host: { type: "positional", required: false, description: "The host to install (nixosConfigurations.HOST); not needed with --undo", valueHint: "HOST" },
      target: { type: "string", description: "Install on a live installer over ssh: USER@ADDRESS, or a name found by mDNS / fe80::47", valueHint: "USER@ADDR" },
      "dry-run": { type: "boolean", description: "Check everything and print the plan; run nothing" },
      script: { type: "boolean", description: "Print the generated POSIX shell script and exit (implies --dry-run)" },
      undo: { type: "boolean", description: "Unmount and swap off what flk install mounted, in reverse order" },
      impure: { type: "boolean", description: "Pass --impure to nixos-install" },
      disk: { type: "string", description: "Partition and format this disk first (flk disk's checks, confirmation and layout), in the same script", valueHint: "DEVICE" },
      boot: { type: "string", description: "With --disk: uefi or bios (default: what the machine being installed booted with)", valueHint: "uefi|bios" },
      swap: { type: "string", description: "With --disk: a swap partition of this size, e.g. 8G", valueHint: "SIZE" },
      "hardware-config": { type: "boolean", description: "Capture the target's hardware: nixos-generate-config --show-hardware-config into hosts/HOST/hardware-configuration.nix, or, when the host sets hardware.facter.reportPath, nixos-facter's report there" },
      "hardware-backend": { type: "string", description: "With --hardware-config: the tool, nixos-facter or nixos-generate-config (default: nixos-facter when the host sets hardware.facter.reportPath, else nixos-generate-config); implies --hardware-config", valueHint: "nixos-facter|nixos-generate-config" },
      "git-add": { type: "boolean", description: "With --hardware-config: git add the file (Nix sees only tracked files of a git flake)" },
      "extra-files": { type: "string", description: "Copy this directory's tree into the target root before nixos-install (modes and ownership kept)", valueHint: "DIR" },
      rebuild: { type: "boolean", description: "Always nixos-install --flake, even when the stick carries this host's built system (over --target: the stick's copy of the flake)" },
      "from-stick": { type: "boolean", description: "With --target: install the stick's version even though your site has changed since it was built" },
      "store-overlay": { type: "boolean", description: "Overlay /nix/store onto ROOT/tmpstore (default: only on a live installer)", negativeDescription: "Never overlay the store" },
      // With --target: the same -i/-p/-J as flk ssh (core/reach.ts).
      ...SSH_FLAG_ARGS,
    },
    async run({ args }) {
      // The printed script would have to carry the files (sops/agenix host keys) to be runnable: keys are never printed.
      if (args.script && args["extra-files"] && !args.undo)
        throw new FlkError(
          "--script cannot carry --extra-files: the script would have to hold the files themselves (private keys) on stdout, and flk never prints a key. Nothing was run. Run `flk install HOST --extra-files DIR` (here or with --target), or copy the files into ROOT yourself before running the script.",
          "E_USAGE",
        );
      const report = await install(flk, {
        host: args.host as string | undefined,
        target: args.target as string | undefined,
        dryRun: Boolean(args["dry-run"] || args.script),
        undo: Boolean(args.undo),
        impure: Boolean(args.impure),
        storeOverlay: args["store-overlay"] as boolean | undefined,
        extraArgs: flk.passthrough,
        ...diskOption(args),
        hardwareConfig: Boolean(args["hardware-config"] || args["hardware-backend"]),
        hardwareBackend: parseBackend(args["hardware-backend"]),
        gitAdd: Boolean(args["git-add"]),
        ...(args["extra-files"] ? { extraFiles: args["extra-files"] as string } : {}),
        rebuild: Boolean(args.rebuild),
        fromStick: Boolean(args["from-stick"]),
        sshArgs: sshFlags(args),
      });
      const log = flk.logger("installer");
      for (const warning of report.warnings) log.warn(warning);
      if (args.script) process.stdout.write(report.script);
      else if (flk.flags.json) flk.printJson(report);
      else if (args["dry-run"]) process.stdout.write(formatPlan(report));
      else if (report.mode === "install") log.success(`installed ${report.source?.kind === "system" ? `${report.source.toplevel} (the system the stick carries)` : report.flake}${report.target ? ` on ${report.target}` : ""}; reboot into it, or \`flk install --undo\` to unmount first`);
      else log.success(undoneMessage(report.steps.filter((s) => s.status === "ran").length, report.root));
    },
  });
}

/** `--disk` with its `--boot`/`--swap`; those two alone are a usage error. */
function diskOption(args: Record<string, unknown>): Pick<InstallOptions, "disk"> {
  const boot = parseBoot(args.boot);
  const swap = args.swap as string | undefined;
  if (!args.disk) {
    if (boot || swap) throw new FlkError("--boot and --swap go with --disk DEVICE (they describe the layout flk makes); without --disk flk installs onto filesystems found by label.", "E_USAGE");
    return {};
  }
  return { disk: { device: args.disk as string, ...(boot ? { boot } : {}), ...(swap !== undefined ? { swap } : {}) } };
}

/** "undone: 2 steps reversed", or that nothing flk mounts was in place. */
export function undoneMessage(count: number, root: string): string {
  if (count === 0) return `nothing to undo: nothing flk mounts is in place under ${root}`;
  return `undone: ${count} ${count === 1 ? "step" : "steps"} reversed; nothing flk mounted is left under ${root}`;
}

/** The human --dry-run output: the plan as numbered commands. */
export function formatPlan(report: InstallReport): string {
  const where = report.target ?? "this machine";
  const lines = [`flk install ${report.host ?? "--undo"} on ${where}: ${report.mode} plan (nothing was run)`];
  for (const [role, d] of Object.entries(report.devices)) lines.push(`  ${role.padEnd(5)} ${d.label} = ${d.path} (${d.type || "unknown type"})`);
  lines.push(`  uefi ${report.uefi ? "yes" : "no"}, store overlay ${report.storeOverlay ? "on" : "off"}`);
  if (report.disk) lines.push(`  disk ${report.disk.device} (${report.disk.model ?? "unknown model"}): ${report.disk.layout.table}, ${report.disk.layout.partitions.map((p) => `${p.node} ${p.fs} '${p.label}'`).join(", ")} (erased first)`);
  if (report.source) lines.push(`  nixos-install ${report.source.kind === "system" ? `--system ${report.source.toplevel}` : "--flake"}: ${report.source.reason}`);
  const steps = report.mode === "undo" ? [...report.steps].reverse().filter((s) => s.undo && s.unless) : report.steps;
  steps.forEach((step, i) => {
    lines.push(`${String(i + 1).padStart(3)}. ${step.title}`);
    lines.push(`     ${shJoin(report.mode === "undo" ? step.undo! : step.argv)}`);
    if (step.unless) lines.push(`     ${report.mode === "undo" ? "only when" : "skipped when"}: ${shJoin(step.unless)}`);
    if (step.needs) lines.push(`     needs: ${step.needs.join(", ")}`);
  });
  return lines.join("\n") + "\n";
}
