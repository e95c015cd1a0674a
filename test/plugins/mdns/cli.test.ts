import { expect, test } from "bun:test";
import { flk } from "../../helpers/binary.ts";

test("flk resolve refuses an invalid name with exit 2 before sending anything", async () => {
  const r = await flk(["resolve", "host.example.com"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("expected a host name like NixOS or NixOS.local, got 'host.example.com'");
  expect(r.stdout).toBe("");
});

test("flk resolve refuses an unknown --iface, a bad --timeout and -4 with -6, each with exit 2", async () => {
  const iface = await flk(["resolve", "NixOS", "--iface", "no-such-if0"]);
  expect(iface.code).toBe(2);
  expect(iface.stderr).toContain("there is no interface 'no-such-if0'");
  const timeout = await flk(["resolve", "NixOS", "--timeout", "2s"]);
  expect(timeout.code).toBe(2);
  expect(timeout.stderr).toContain("expected --timeout in milliseconds");
  const both = await flk(["resolve", "NixOS", "-4", "-6"]);
  expect(both.code).toBe(2);
  expect(both.stderr).toContain("-4 and -6 exclude each other");
});
