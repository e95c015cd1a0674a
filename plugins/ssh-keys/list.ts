/** `flk keys list`: the store and flk.toml keyFiles, in ssh-keygen -lf's terms. */
import type { Flk } from "../../core/index.ts";
import { loadStore, type KeyEntry } from "./store.ts";
import { escapeText } from "./options.ts";

/** The JSON shape of one key (README: `flk keys list --json`); `options` and `risky` were added after the first six fields. */
export function keyJson(entry: KeyEntry) {
  return { name: entry.name, type: entry.type, bits: entry.bits, fingerprint: entry.fingerprint, comment: entry.comment, file: entry.file, options: entry.options, risky: entry.risky };
}

/** The columns of one key as printed: name, `bits fingerprint` (as ssh-keygen -lf), comment (type), file — all text escaped for a terminal. */
function columns(entry: KeyEntry): string[] {
  return [escapeText(entry.name), `${entry.bits} ${entry.fingerprint}`, `${entry.comment === "" ? "no comment" : escapeText(entry.comment)} (${entry.type})`, escapeText(entry.file)];
}

/**
 * Keys as an aligned table (columns padded to the widest entry), each
 * followed by its options and, flagged with `!`, the risky ones.
 */
export function keyTable(entries: readonly KeyEntry[]): string {
  const rows = entries.map(columns);
  const widths = rows.reduce((w, row) => row.map((cell, i) => Math.max(w[i] ?? 0, cell.length)), [] as number[]);
  const lines: string[] = [];
  entries.forEach((entry, i) => {
    lines.push(rows[i]!.map((cell, c) => (c === rows[i]!.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
    if (entry.options.length > 0) lines.push(`    options: ${entry.options.map(escapeText).join(",")}`);
    for (const risk of entry.risky) lines.push(`    ! ${escapeText(risk)}`);
  });
  return lines.map((l) => l + "\n").join("");
}

/** One key on one line (for `added …`). */
export function keyLine(entry: KeyEntry): string {
  return columns(entry).join("  ");
}

/** Every key of the store and of `keyFiles`; broken or missing files are logged as warnings, not fatal. */
export function listKeys(flk: Flk, keyFiles: readonly string[]): KeyEntry[] {
  const store = loadStore(flk.siteRoot(), keyFiles);
  for (const problem of store.problems) flk.logger("ssh-keys").warn(escapeText(problem));
  return store.keys;
}
