/**
 * discover and locate across network namespaces on one bridged LAN:
 *   h0 the operator, where flk runs;
 *   h1 the live installer: fe80::47 plus its EUI-64 address, a real sshd on both;
 *   h2 a second stick that also holds fe80::47 (DAD off, so both keep it): the collision;
 *   h3 a host with no static address whose port 22 answers, but not with SSH (a printer).
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { missing, systemTest } from "../helpers/require.ts";
import { FLK } from "../helpers/binary.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { createLan, must, waitForAddress, type Host, type Lan } from "../plugins/ipv6-lla/lan.ts";
import { eui64LinkLocal } from "../../plugins/ipv6-lla/eui64.ts";

const PROGRAMS = ["ip", "ping", "sshd", "ssh-keygen", "setpriv"];
const it = systemTest(PROGRAMS);
const MACS = ["52:54:00:aa:00:01", "52:54:00:aa:00:47", "02:00:00:00:47:02", "00:e0:4c:05:17:f3"];
const PROBE = join(import.meta.dir, "..", "plugins", "ipv6-lla", "locate-probe.ts");

let lan: Lan;
let dir: string;
let sshd: Sshd | undefined;
let printer: Bun.Subprocess | undefined;
let op: Host, installer: Host, twin: Host, plain: Host;

beforeAll(async () => {
  if (missing(PROGRAMS, true)) return;
  dir = mkdtempSync(join(tmpdir(), "flk-lla-"));
  chmodSync(dir, 0o755); // the unprivileged run reads flk.toml too
  writeFileSync(join(dir, "flk.toml"), '[ipv6-lla]\naddress = "fe80::47"\n');
  lan = await createLan(MACS);
  [op, installer, twin, plain] = lan.hosts as [Host, Host, Host, Host];
  for (const h of [installer, twin]) await must(["ip", "netns", "exec", h.name, "ip", "addr", "add", "fe80::47/64", "dev", h.iface, "nodad"]);
  for (const h of lan.hosts) await waitForAddress(h, eui64LinkLocal(h.mac));
  await waitForAddress(installer, "fe80::47");
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  // startSshd listens on the newest link-local address (fe80::47); the EUI-64 one is added here.
  sshd = await startSshd(installer, { hostKey: join(dir, "host_key"), authorizedKeys: "", extraConfig: [`ListenAddress ${eui64LinkLocal(installer.mac)}%${installer.iface}`] });
  const banner = `Bun.listen({ hostname: "::", port: 22, socket: { open(s) { s.write("220 printer ready\\r\\n"); }, data() {} } }); setInterval(() => {}, 1000);`;
  printer = plain.spawn([process.execPath, "-e", banner]);
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  printer?.kill();
  await printer?.exited;
  await lan?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Run the compiled flk on the operator host; `user` drops root (no raw socket). */
async function flkOnOp(args: string[], user?: number) {
  const drop = user === undefined ? [] : ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--clear-groups"];
  // From the test's temp dir: a dropped user may not enter the checkout's directory (e.g. under /root).
  return op.exec([...drop, FLK, "--config", join(dir, "flk.toml"), ...args], { env: { NO_COLOR: "1" }, cwd: dir });
}

/** Run the locate hook on the operator host. */
async function locate(timeoutMs = 3000, eui64 = true) {
  // Each scenario starts with an empty neighbour cache, as on a freshly plugged cable.
  await must(["ip", "netns", "exec", op.name, "ip", "neigh", "flush", "dev", op.iface]);
  const r = await op.exec([process.execPath, PROBE, String(timeoutMs), "", String(eui64)]);
  if (r.code !== 0) throw new Error(`locate probe failed (${r.code}): ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as { endpoint?: { address: string; scope: string; family: number; source: string }; tried: string[]; elapsedMs: number }), stderr: r.stderr };
}

const hostsOf = (c: { hosts: { mac: string; eui64: string }[] }) => [...c.hosts].sort((a, b) => a.mac.localeCompare(b.mac));

describe("flk lla discover and the locate tap on a LAN", () => {
  it("discover lists both holders of fe80::47 and the EUI-64 host, and reports the collision with both EUI-64 addresses", async () => {
    const r = await flkOnOp(["lla", "discover", "--json"]);
    expect(r.code).toBe(0);
    const found = JSON.parse(r.stdout);
    expect(found.interfaces).toEqual([op.iface]);
    expect(found.neighbours).toContainEqual({ iface: op.iface, mac: installer.mac, address: "fe80::47", flags: ["static"], router: false });
    expect(found.neighbours).toContainEqual({ iface: op.iface, mac: twin.mac, address: "fe80::47", flags: ["static"], router: false });
    expect(found.neighbours).toContainEqual({ iface: op.iface, mac: plain.mac, address: "fe80::2e0:4cff:fe05:17f3", flags: ["eui64"], router: false });
    expect(found.neighbours.some((n: { mac: string }) => n.mac === op.mac)).toBe(false);
    expect(found.collisions.length).toBe(1);
    expect(found.collisions[0]).toMatchObject({ iface: op.iface, address: "fe80::47", count: 2 });
    expect(hostsOf(found.collisions[0])).toEqual(
      [installer, twin].map((h) => ({ mac: h.mac, eui64: eui64LinkLocal(h.mac) })).sort((a, b) => a.mac.localeCompare(b.mac)),
    );
    expect(r.stderr).toContain(`2 hosts answer on fe80::47%${op.iface}`);
  });

  it("discover without root (no raw socket) still sees the collision from two ping replies, and says how to see the MACs", async () => {
    const r = await flkOnOp(["lla", "discover"], 65534);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${op.iface}: fe80::47 collides: 2 hosts answer on it.`);
    expect(r.stdout).toContain("run as root to see all of them");
    expect(r.stderr).toContain("cannot open a raw ICMPv6 socket");
  });

  it("locate, when two hosts hold fe80::47, warns and returns the one whose EUI-64 address answers ssh", async () => {
    const { endpoint, tried, stderr } = await locate();
    expect(endpoint).toEqual({ address: eui64LinkLocal(installer.mac), scope: op.iface, family: 6, source: "eui64" });
    expect(stderr).toContain("2 hosts answer on fe80::47");
    expect(tried.some((t) => t.startsWith(`ipv6-lla: ssh on ${eui64LinkLocal(installer.mac)}%${op.iface} (eui64): SSH-2.0-OpenSSH`))).toBe(true);
  });

  it("locate returns fe80::47 itself (source static) when only the installer holds it", async () => {
    await must(["ip", "netns", "exec", twin.name, "ip", "addr", "del", "fe80::47/64", "dev", twin.iface]);
    const { endpoint, tried, elapsedMs } = await locate();
    expect(endpoint).toEqual({ address: "fe80::47", scope: op.iface, family: 6, source: "static" });
    expect(tried).toEqual([expect.stringMatching(new RegExp(`^ipv6-lla: ssh on fe80::47%${op.iface} \\(static\\): SSH-2\\.0-OpenSSH`))]);
    expect(elapsedMs).toBeLessThan(1500);
  });

  it("locate falls back to EUI-64 neighbours when nobody holds fe80::47, and passes over a port 22 that is not SSH", async () => {
    await must(["ip", "netns", "exec", installer.name, "ip", "addr", "del", "fe80::47/64", "dev", installer.iface]);
    const off = await locate(3000, false);
    expect(off.endpoint).toBeUndefined();
    expect(off.tried.every((t) => t.includes("(static)"))).toBe(true);
    const { endpoint, tried } = await locate();
    expect(endpoint).toEqual({ address: eui64LinkLocal(installer.mac), scope: op.iface, family: 6, source: "eui64" });
    expect(tried).toContainEqual(`ipv6-lla: ssh on ${eui64LinkLocal(plain.mac)}%${op.iface} (eui64): port 22 answered, but not with an SSH banner`);
    expect(tried).toContainEqual(`ipv6-lla: ssh on ${eui64LinkLocal(twin.mac)}%${op.iface} (eui64): connection refused`);
  });

  it("locate answers undefined, listing what it tried, when no ssh answers on the link", async () => {
    await sshd?.stop();
    const { endpoint, tried } = await locate();
    expect(endpoint).toBeUndefined();
    expect(tried[0]).toMatch(/^ipv6-lla: ssh on fe80::47%\S+ \(static\): /);
    expect(tried.filter((t) => t.includes("(eui64)")).length).toBe(3);
  });

  it("the binary refuses an interface that does not exist with exit 2 and sends nothing", async () => {
    const r = await flkOnOp(["lla", "discover", "--iface", "nosuch0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("there is no interface 'nosuch0'");
    expect(r.stderr).toContain("Nothing was sent.");
  });
});
