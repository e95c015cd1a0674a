/**
 * Progress for long byte-counted work: a bar on a TTY, a plain line every few
 * seconds otherwise, JSON events (one per line on stdout) with --json.
 */

export type ProgressMode = "tty" | "plain" | "json" | "none";

export interface ProgressOptions {
  /** Total bytes, if known. */
  total?: number;
  /** What is progressing, e.g. `writing /dev/sdb`. */
  label: string;
  mode: ProgressMode;
  /** Where the bar and plain lines go (stderr by default). */
  stream?: { write(text: string): unknown; columns?: number };
  /** Minimum time between plain lines / JSON events, ms. */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface Progress {
  /** Report `done` bytes so far; cheap to call often (output is throttled). */
  update(done: number): void;
  /** Final report. */
  finish(done: number): void;
}

/** Pick the mode from the global flags and whether stderr is a terminal. */
export function progressMode(json: boolean, isTTY = Boolean(process.stderr.isTTY)): ProgressMode {
  return json ? "json" : isTTY ? "tty" : "plain";
}

/** Create a progress reporter. */
export function createProgress(options: ProgressOptions): Progress {
  const now = options.now ?? (() => performance.now());
  const stream = options.stream ?? (options.mode === "json" ? process.stdout : process.stderr);
  const interval = options.intervalMs ?? (options.mode === "tty" ? 100 : options.mode === "json" ? 500 : 2000);
  const start = now();
  let last = -Infinity;
  let lastDone = -1;

  const emit = (done: number, final: boolean) => {
    const elapsed = Math.max(now() - start, 1) / 1000;
    const rate = done / elapsed;
    const total = options.total;
    if (options.mode === "json") {
      stream.write(JSON.stringify({ event: final ? "done" : "progress", label: options.label, bytes: done, total: total ?? null, rate: Math.round(rate) }) + "\n");
      return;
    }
    const line = formatLine(options.label, done, total, rate, elapsed);
    if (options.mode === "tty") {
      const width = Math.max(10, Math.min(30, ((options.stream?.columns ?? process.stderr.columns ?? 80) - line.length - 4) | 0));
      stream.write(`\r\x1b[2K${bar(done, total, width)} ${line}${final ? "\n" : ""}`);
    } else stream.write(line + "\n");
  };

  return {
    update(done) {
      if (options.mode === "none") return;
      const t = now();
      if (t - last < interval) return;
      last = t;
      lastDone = done;
      emit(done, false);
    },
    finish(done) {
      // A plain line for these very bytes is already out: do not repeat it.
      if (options.mode === "none" || (options.mode === "plain" && done === lastDone)) return;
      emit(done, true);
    },
  };
}

/** "writing: 1.2 GiB / 2.0 GiB (60%), 120.0 MB/s, ETA 0:07" */
export function formatLine(label: string, done: number, total: number | undefined, rate: number, elapsedSeconds: number): string {
  const parts = [`${label}: ${formatBytes(done)}`];
  if (total) parts[0] += ` / ${formatBytes(total)} (${Math.floor((100 * done) / total)}%)`;
  parts.push(`${(rate / 1e6).toFixed(1)} MB/s`);
  if (total && rate > 0 && done < total) parts.push(`ETA ${formatDuration((total - done) / rate)}`);
  else parts.push(`${formatDuration(elapsedSeconds)} elapsed`);
  return parts.join(", ");
}

/** Binary units: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) [value, unit] = [value / 1024, unit + 1];
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** 67 → "1:07", 3725 → "1:02:05". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

function bar(done: number, total: number | undefined, width: number): string {
  if (!total) return "[" + "·".repeat(width) + "]";
  const filled = Math.min(width, Math.round((width * done) / total));
  return "[" + "█".repeat(filled) + "░".repeat(width - filled) + "]";
}
