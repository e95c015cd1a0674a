/**
 * Progress for several sticks at once: on a terminal one line per stick,
 * redrawn in place (cursor up N lines, rewrite each); otherwise core's
 * progress per stick (plain lines, or one NDJSON stream on stdout whose
 * events carry each stick's label).
 */
import { createProgress, formatLine, type Progress, type ProgressMode } from "../../core/index.ts";

/** One Progress per label; `total` is the same for all (one image). */
export function stickProgress(labels: string[], total: number | undefined, mode: ProgressMode, stream: { write(text: string): unknown } = process.stderr): Progress[] {
  if (mode !== "tty" || labels.length < 2) return labels.map((label) => createProgress({ label, total, mode }));
  const start = performance.now();
  const done = labels.map(() => 0);
  const finished = labels.map(() => false);
  let drawn = false;
  let last = -Infinity;
  const draw = (force: boolean) => {
    const now = performance.now();
    if (!force && now - last < 100) return;
    last = now;
    const elapsed = Math.max(now - start, 1) / 1000;
    const lines = labels.map((label, i) => `\r\x1b[2K${formatLine(label, done[i]!, total, done[i]! / elapsed, elapsed)}${finished[i] ? " ✓" : ""}\n`);
    stream.write(`${drawn ? `\x1b[${labels.length}A` : ""}${lines.join("")}`);
    drawn = true;
  };
  return labels.map((_, i) => ({
    update(bytes: number) {
      done[i] = bytes;
      draw(false);
    },
    finish(bytes: number) {
      done[i] = bytes;
      finished[i] = true;
      draw(true);
    },
  }));
}
