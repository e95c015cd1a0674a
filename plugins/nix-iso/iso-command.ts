/** `flk iso HOST… | --all`: thin; the work is planIso() / runIsoBuilds(). */
import { defineCommand, formatBytes, type Flk } from "../../core/index.ts";
import { displayPath, planArgv, planIso, runIsoBuilds, writeModules, type IsoResult } from "./build.ts";
import { shellQuote } from "./command.ts";

/** The `iso` command. */
export function isoCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "iso", description: "Build the live installer ISO of a host (nix build over nixosConfigurations.HOST.extendModules)" },
    args: {
      all: { type: "boolean", description: "Build every host of the site" },
      "print-module": { type: "boolean", description: "Print the generated NixOS module and exit" },
      "dry-run": { type: "boolean", description: "Print the nix command and exit (the module file is kept for it)" },
      "out-link": { type: "string", description: "Out-link (default result; result-HOST per host with several)", valueHint: "PATH" },
    },
    async run({ args }) {
      const request = { hosts: args._.map(String), all: Boolean(args.all), outLink: args["out-link"] as string | undefined };
      const plan = await planIso(flk, request);
      if (args["print-module"]) {
        for (const host of plan.hosts) process.stdout.write(host.text);
        return;
      }
      if (args["dry-run"]) {
        writeModules(plan);
        const argv = planArgv(plan);
        if (flk.flags.json) return flk.printJson(plan.hosts.map((h, i) => ({ host: h.host, module: h.build.moduleFile, argv: argv[i] })));
        for (const line of argv) process.stdout.write(shellQuote(line) + "\n");
        return;
      }
      for (const result of await runIsoBuilds(flk, plan, request)) report(flk, result);
    },
  });
}

function report(flk: Flk, result: IsoResult): void {
  if (flk.flags.json) return flk.printJson(result);
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
