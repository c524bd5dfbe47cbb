/** Plain-text formatting of the CLI: tables, sizes, ages; colour only when asked (a TTY). */

const ANSI: Record<string, string> = { red: "31", green: "32", yellow: "33", cyan: "36", dim: "2", bold: "1" };

/** An ANSI colour sequence (ESC [ ... m), not counted in a cell's width. */
const SGR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

export type Paint = (color: keyof typeof ANSI | string, text: string) => string;

/** Colours for a terminal that wants them (a TTY, `NO_COLOR` unset); identity otherwise. */
export function painter(enabled: boolean): Paint {
  return (color, text) => (enabled && ANSI[color] !== undefined ? `\u001b[${ANSI[color]}m${text}\u001b[0m` : text);
}

export function statusColor(status: string): string {
  switch (status) {
    case "done":
      return "green";
    case "failed":
    case "timed_out":
      return "red";
    case "stopped":
      return "yellow";
    default:
      return "cyan";
  }
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** `42s`, `3m 5s`, `2h 10m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function formatAge(sinceMs: number, nowMs: number): string {
  return `${formatDuration(nowMs - sinceMs).split(" ")[0]} ago`;
}

/** Columns padded to their widest cell (ANSI codes not counted); the last column is not padded. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, paint: Paint): string {
  const visible = (s: string) => s.replace(SGR, "").length;
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat((widths[i] ?? 0) - visible(c))))
      .join("  ")
      .trimEnd();
  return [paint("bold", line(header)), ...rows.map(line)].join("\n") + "\n";
}
