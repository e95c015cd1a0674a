/** `flk doctor`: is this machine ready for the enabled plugins? */
import { defineCommand } from "../command.ts";
import { pluginsOf, type Flk } from "../context.ts";
import { ExitCode, FlkError, messageOf } from "../errors.ts";
import { providerOf, which } from "../exec.ts";
import { nixInfo } from "../nix.ts";

/** One line for `flk --help`. */
export const DOCTOR_DESCRIPTION = "Check nix, root and the tools each enabled plugin needs";

/** One finding of `flk doctor`. */
export interface Check {
  name: string;
  ok: boolean;
  /** Missing but not required (e.g. root for a command you may not use). */
  required: boolean;
  detail: string;
}

/** Run every check (library function behind `flk doctor`). */
export async function runDoctor(flk: Flk): Promise<Check[]> {
  const checks: Check[] = [];
  try {
    const info = await nixInfo();
    checks.push({ name: "nix", ok: true, required: true, detail: `${info.version}; flakes ${info.flags.length ? "need --extra-experimental-features (flk adds it)" : "enabled in nix.conf"}` });
  } catch (error) {
    checks.push({ name: "nix", ok: false, required: true, detail: messageOf(error) });
  }
  const root = process.getuid?.() === 0;
  const rootNeeds = pluginsOf(flk).all().filter((p) => flk.enabled(p.name) && p.requires?.root).map((p) => `${p.name}: ${p.requires!.root}`);
  checks.push({ name: "root", ok: root, required: false, detail: root ? "running as root" : `not root; needed for ${rootNeeds.join("; ") || "nothing enabled"} (use sudo)` });
  const seen = new Set<string>(["nix"]);
  for (const plugin of pluginsOf(flk).all()) {
    if (!flk.enabled(plugin.name)) continue;
    for (const [program, why] of Object.entries(plugin.requires?.programs ?? {})) {
      if (seen.has(program)) continue;
      seen.add(program);
      const path = which(program);
      checks.push({ name: program, ok: Boolean(path), required: true, detail: path ? `${path} (${plugin.name}: ${why})` : `missing (${plugin.name}: ${why}); install it with ${providerOf(program)}` });
    }
  }
  return checks;
}

export function doctorCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "doctor", description: DOCTOR_DESCRIPTION },
    async run() {
      const checks = await runDoctor(flk);
      if (flk.flags.json) flk.printJson(checks);
      else for (const c of checks) process.stdout.write(`${c.ok ? "ok  " : c.required ? "FAIL" : "warn"}  ${c.name.padEnd(14)} ${c.detail}\n`);
      const missing = checks.filter((c) => !c.ok && c.required);
      if (missing.length > 0)
        throw new FlkError(`${missing.length} required ${missing.length === 1 ? "thing is" : "things are"} missing: ${missing.map((c) => c.name).join(", ")}`, "E_DOCTOR", ExitCode.failure);
    },
  });
}
