import { describe, expect, test } from "bun:test";
import { isFlkError } from "../../../core/index.ts";
import { staticAddress } from "../../../plugins/ipv6-lla/ipv6.ts";

describe("the configured static address", () => {
  test("the configured static address is made canonical, and a wrong one is refused naming the setting", () => {
    expect(staticAddress("FE80:0:0::47")).toBe("fe80::47");
    for (const bad of ["2001:db8::47", "fe80::47/64", "fe80::47%eth0", "fe80::", "47", "fec0::47"]) {
      let caught: unknown;
      try {
        staticAddress(bad, "flk.toml: [ipv6-lla] address");
      } catch (error) {
        caught = error;
      }
      expect(isFlkError(caught)).toBe(true);
      expect((caught as Error).message).toContain(`flk.toml: [ipv6-lla] address: expected an IPv6 link-local address like fe80::47`);
      expect((caught as Error).message).toContain(`got '${bad}'`);
    }
  });
});
