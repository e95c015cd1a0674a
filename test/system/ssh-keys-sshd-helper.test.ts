/**
 * test/helpers/sshd.ts itself: the sshd it starts lets in exactly the
 * authorized key and presents exactly the host key it was given.
 */
import { expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal } from "../helpers/netns.ts";
import { startSshd } from "../helpers/sshd.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);

async function keygen(file: string) {
  const r = Bun.spawnSync(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file]);
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
}

it("sshd helper admits only the given key and presents the given host key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "flk-sshd-test-"));
  const link = await createLink();
  try {
    for (const name of ["host", "user", "stranger"]) await keygen(join(dir, name));
    await linkLocal(link.b);
    const sshd = await startSshd(link.a, { hostKey: join(dir, "host"), authorizedKeys: readFileSync(join(dir, "user.pub"), "utf8") });
    try {
      const knownHosts = join(dir, "known_hosts");
      await Bun.write(knownHosts, `pinned ${readFileSync(join(dir, "host.pub"), "utf8")}`);
      const ssh = (key: string) =>
        link.b.exec(["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes",
          "-o", "HostKeyAlias=pinned", "-i", key, "-p", String(sshd.port), `root@${sshd.address}%${link.b.iface}`, "echo", "inside"]);
      const good = await ssh(join(dir, "user"));
      expect(good.stderr).toBe("");
      expect(good.stdout.trim()).toBe("inside");
      const bad = await ssh(join(dir, "stranger"));
      expect(bad.code).toBe(255);
      expect(bad.stderr).toContain("Permission denied");
    } finally {
      await sshd.stop();
    }
  } finally {
    await link.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
