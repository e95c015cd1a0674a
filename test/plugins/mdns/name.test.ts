import { expect, test } from "bun:test";
import { parseMdnsName, sameName } from "../../../plugins/mdns/name.ts";
import { DEFAULT_TIMEOUT_MS, parseTimeout } from "../../../plugins/mdns/lookup.ts";
import { refusal } from "../../helpers/refusal.ts";


test("a bare host name gets .local; .local and a trailing dot are accepted as given", () => {
  expect(parseMdnsName("NixOS").fqdn).toBe("NixOS.local");
  expect(parseMdnsName("NixOS.local").fqdn).toBe("NixOS.local");
  expect(parseMdnsName("NixOS.LOCAL.").fqdn).toBe("NixOS.local");
  expect(parseMdnsName("rack.b12.local").labels).toEqual(["rack", "b12", "local"]);
  expect(parseMdnsName("bücher").fqdn).toBe("bücher.local");
});

test("refuses with exit 2 a name outside .local, an empty name, empty labels, long labels and whitespace", () => {
  for (const [input, why] of [
    ["host.example.com", "only names under .local"],
    ["", "empty"],
    [".local", "empty label"],
    ["local", "no host part"],
    ["a..b.local", "empty label"],
    ["x".repeat(64), "at most 63"],
    [Array(5).fill("x".repeat(60)).join(".") + ".local", "over the DNS limit of 255"],
    ["my host", "contains"],
    ["tab\there", "contains"],
  ] as const) {
    const error = refusal(() => parseMdnsName(input));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(why);
    expect(error.message).toContain(`got '${input}'`);
  }
});

test("names compare case-insensitively, ignoring a trailing dot", () => {
  expect(sameName("nixos.LOCAL.", "NixOS.local")).toBe(true);
  expect(sameName("nixos2.local", "NixOS.local")).toBe(false);
});

test("--timeout takes whole milliseconds from 1 to 600000 and refuses anything else with exit 2", () => {
  expect(parseTimeout(undefined)).toBe(DEFAULT_TIMEOUT_MS);
  expect(parseTimeout("1500")).toBe(1500);
  for (const bad of ["0", "-5", "1.5", "2s", "abc", "600001"]) {
    const error = refusal(() => parseTimeout(bad));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(`got '${bad}'`);
  }
});
