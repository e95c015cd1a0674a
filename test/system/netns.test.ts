import { expect } from "bun:test";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal } from "../helpers/netns.ts";

const it = systemTest(["ip", "ping"]);

it("two namespaces joined by veth reach each other over IPv6 link-local", async () => {
  const link = await createLink({ macA: "52:54:00:12:34:56" });
  try {
    const addr = await linkLocal(link.a);
    expect(addr).toBe("fe80::5054:ff:fe12:3456");
    await linkLocal(link.b);
    const r = await link.b.exec(["ping", "-6", "-c", "1", "-W", "2", `${addr}%${link.b.iface}`]);
    expect(r.code).toBe(0);
  } finally {
    await link.cleanup();
  }
});
