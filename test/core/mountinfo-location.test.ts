/**
 * fsLocation / reachableWithin (core/mountinfo.ts): where a path lives in
 * its filesystem, through bind mounts, from recorded mountinfo lines (the
 * format of proc(5); the real kernel case is test/system/trust-owners.test.ts C).
 */
import { describe, expect, test } from "bun:test";
import { fsLocation, parseMountinfo, reachableWithin } from "../../core/mountinfo.ts";

// / on vda1; /home on vda2; the site's .st bound at /tmp/x; /var/state bound into another site; a mount point with a space.
const mounts = parseMountinfo(
  [
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
    "23 22 254:2 / /home rw,relatime shared:2 - ext4 /dev/vda2 rw",
    "40 22 254:2 /u/site/.st /tmp/x rw,relatime shared:2 - ext4 /dev/vda2 rw",
    "41 23 254:1 /var/state /home/u/other/.st rw,relatime shared:1 - ext4 /dev/vda1 rw",
    "42 22 254:1 /srv/my\\040dir /tmp/spaced rw - ext4 /dev/vda1 rw",
  ].join("\n"),
);

describe("fsLocation", () => {
  test("names the filesystem and the path inside it, through the longest mount point", () => {
    expect(fsLocation("/home/u/site/.st/flk", mounts)).toEqual({ majmin: "254:2", path: "/u/site/.st/flk" });
    expect(fsLocation("/tmp/x/flk", mounts)).toEqual({ majmin: "254:2", path: "/u/site/.st/flk" });
    expect(fsLocation("/tmp/xy", mounts)).toEqual({ majmin: "254:1", path: "/tmp/xy" });
    expect(fsLocation("/tmp/spaced/a", mounts)).toEqual({ majmin: "254:1", path: "/srv/my dir/a" });
  });
});

describe("reachableWithin", () => {
  test("a state dir on a bind of a directory of the site is inside it; a sibling name is not", () => {
    expect(reachableWithin("/tmp/x/flk", "/home/u/site", mounts)).toBe(true);
    expect(reachableWithin("/tmp/xy/flk", "/home/u/site", mounts)).toBe(false);
    expect(reachableWithin("/home/u/site2/flk", "/home/u/site", mounts)).toBe(false);
  });

  test("a state dir bound into the site (a mount below the site shows it) is inside it", () => {
    expect(reachableWithin("/var/state/flk", "/home/u/other", mounts)).toBe(true);
    expect(reachableWithin("/var/stateful/flk", "/home/u/other", mounts)).toBe(false);
    expect(reachableWithin("/var/state/flk", "/home/u/site", mounts)).toBe(false);
  });

  test("no mountinfo (a recorded tree without one): nothing is claimed", () => {
    expect(reachableWithin("/tmp/x/flk", "/home/u/site", [])).toBe(false);
  });
});
