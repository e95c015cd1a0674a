import { describe, expect, test } from "bun:test";
import { createProgress, formatBytes, formatDuration, formatLine, progressMode } from "../../core/progress.ts";

function sink(columns = 100) {
  const out: string[] = [];
  return { out, stream: { write: (t: string) => out.push(t), columns } };
}

describe("progress", () => {
  test("units and durations read like a person would write them", () => {
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 2 ** 30)]).toEqual(["512 B", "1.5 KiB", "3.0 GiB"]);
    expect([formatDuration(7), formatDuration(67), formatDuration(3725)]).toEqual(["0:07", "1:07", "1:02:05"]);
    expect(formatLine("writing", 2 ** 30, 2 ** 31, 100e6, 10)).toBe("writing: 1.0 GiB / 2.0 GiB (50%), 100.0 MB/s, ETA 0:11");
  });
  test("the mode follows --json and whether stderr is a terminal", () => {
    expect([progressMode(true, true), progressMode(false, true), progressMode(false, false)]).toEqual(["json", "tty", "plain"]);
  });
  test("a TTY gets one redrawn bar with bytes, percent, rate and ETA", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = createProgress({ total: 1000, label: "writing", mode: "tty", stream, now: () => t });
    t = 1000;
    p.update(250);
    t = 1050;
    p.update(300); // throttled: within 100 ms of the last draw
    t = 2000;
    p.finish(1000);
    expect(out.length).toBe(2);
    expect(out[0]).toStartWith("\r\x1b[2K[");
    expect(out[0]).toContain("writing: 250 B / 1000 B (25%), 0.0 MB/s, ETA 0:03");
    expect(out[1]).toEndWith("\n");
  });
  test("without a TTY: plain lines, throttled", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = createProgress({ total: 100, label: "verifying", mode: "plain", stream, now: () => t, intervalMs: 2000 });
    for (t = 0; t <= 5000; t += 500) p.update(t / 50);
    expect(out.length).toBe(3);
    expect(out.every((l) => !l.includes("\r") && l.endsWith("\n"))).toBe(true);
    // The final line is printed once, not again by finish() for the same bytes.
    t = 9000;
    p.update(100);
    p.finish(100);
    expect(out.length).toBe(4);
    p.finish(100);
    expect(out.length).toBe(4);
  });
  test("--json: one JSON event per line", () => {
    let t = 0;
    const { out, stream } = sink();
    const p = createProgress({ total: 10, label: "writing", mode: "json", stream, now: () => t });
    t = 1000;
    p.update(5);
    p.finish(10);
    expect(out.map((l) => JSON.parse(l))).toEqual([
      { event: "progress", label: "writing", bytes: 5, total: 10, rate: 5 },
      { event: "done", label: "writing", bytes: 10, total: 10, rate: 10 },
    ]);
  });
});
