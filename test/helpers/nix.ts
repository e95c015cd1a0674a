/** Evaluate Nix source with the real nix-instantiate, for tests of rendered values. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** `nix-instantiate --eval --strict --json` of `source`; throws with nix's message on failure. */
export async function evalNix(source: string): Promise<any> {
  const dir = mkdtempSync(join(tmpdir(), "flk-nix-"));
  try {
    const file = join(dir, "value.nix");
    writeFileSync(file, source);
    const child = Bun.spawn(["nix-instantiate", "--eval", "--strict", "--json", file], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NIX_CONFIG: "substituters =" } });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    if ((await child.exited) !== 0) throw new Error(`nix-instantiate failed: ${err}`);
    return JSON.parse(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
