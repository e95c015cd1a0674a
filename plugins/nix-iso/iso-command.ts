/** `flk iso HOST… | --all`: thin; the work is planIso() / runIsoBuilds(). */
import { defineCommand, formatBytes, type Flk } from "../../core/index.ts";
import { displayPath, isoJson, planArgv, planIso, runIsoBuilds, type IsoResult } from "./build.ts";
import { shellQuote } from "./command.ts";

/** The `iso` command. */
export function isoCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "iso", description: "Build the live installer ISO of a host (nix build over nixosConfigurations.HOST.extendModules)" },
    args: {
      // Declared for help and completion (HOST… takes any number); the hosts are read from args._.
      host: { type: "positional", required: false, description: "Hosts to build (nixosConfigurations names)", valueHint: "HOST…" },
      all: { type: "boolean", description: "Build every host of the site" },
      "print-module": { type: "boolean", description: "Print the generated NixOS module and exit" },
      "dry-run": { type: "boolean", description: "Print the nix command (modules inline) and exit; writes nothing" },
      "out-link": { type: "string", description: "Out-link of the first host (default result; nix names the others result-1, result-2, …)", valueHint: "PATH" },
    },
    async run({ args }) {
      const request = { hosts: args._.map(String), all: Boolean(args.all), outLink: args["out-link"] as string | undefined };
      const plan = await planIso(flk, request);
      if (args["print-module"]) {
        for (const host of plan.hosts) process.stdout.write(host.text);
        return;
      }
      if (args["dry-run"]) {
        if (flk.flags.json) return flk.printJson(isoJson(plan));
        process.stdout.write(shellQuote(planArgv(plan)) + "\n");
        return;
      }
      // --json: one document once nix is done (the same shape as --dry-run's); otherwise each image as it is described.
      await runIsoBuilds(
        flk, plan, request,
        (result) => flk.flags.json || report(flk, result),
        (results, failed) => flk.flags.json && flk.printJson(isoJson(plan, results, failed)),
      );
    },
  });
}

function report(flk: Flk, result: IsoResult): void {
  const iso = displayPath(flk.cwd, result.iso);
  process.stdout.write(
    [
      `${result.host}: ${iso}`,
      `  size    ${formatBytes(result.size)} (${result.size} bytes)`,
      `  sha256  ${result.sha256}`,
      `  next    flk write ${iso} /dev/sdX --sha256 ${result.sha256}`,
      "",
    ].join("\n"),
  );
}
