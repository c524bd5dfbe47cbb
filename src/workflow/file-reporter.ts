import type { Node } from "yaml";
import type { Problem } from "./types.js";

/** Something a problem can point at: a YAML node, or an offset / [start, end) range in the text. */
export type Where = Node | number | readonly [number, number];

/**
 * Collects located problems for one file. Positions come from the parsed nodes' offsets, so they are
 * exact for every node, in any style (flow, block, quoted). Lines are counted here rather than with
 * yaml's `LineCounter`, which stops counting where the parser gives up on a broken stream.
 */
export class FileReporter {
  private readonly lineStarts: number[] = [0];

  constructor(
    readonly path: string,
    readonly text: string,
    private readonly sink: Problem[],
  ) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) this.lineStarts.push(i + 1);
  }

  error(where: Where, code: string, message: string): void {
    this.add(where, "error", code, message);
  }

  warning(where: Where, code: string, message: string): void {
    this.add(where, "warning", code, message);
  }

  /** 1-based line and column of an offset, clamped to the text. */
  position(offset: number): { line: number; column: number } {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.lineStarts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= clamped) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: clamped - (this.lineStarts[low] as number) + 1 };
  }

  /** The [start, end) offsets of a node (its value, without trailing comments). */
  range(where: Where): [number, number] {
    if (typeof where === "number") return [where, where];
    if (Array.isArray(where)) return [where[0] as number, where[1] as number];
    const range = (where as Node).range;
    return range ? [range[0], range[1]] : [0, 0];
  }

  private add(where: Where, severity: Problem["severity"], code: string, message: string): void {
    const [start, end] = this.range(where);
    const from = this.position(start);
    const to = this.position(Math.max(start, end));
    this.sink.push({
      file: this.path,
      line: from.line,
      column: from.column,
      severity,
      code,
      message: printable(message),
      endLine: to.line,
      endColumn: to.column,
    });
  }
}

/** Messages quote the user's text; a 200 KB value or a NUL must not reach a terminal or an annotation as is. */
const MAX_MESSAGE = 2000;

/** Control characters (but line breaks and tabs) as `\u0000` escapes, and at most `MAX_MESSAGE` characters. */
function printable(message: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it replaces
  const escaped = message.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return escaped.length > MAX_MESSAGE ? `${escaped.slice(0, MAX_MESSAGE - 1)}…` : escaped;
}
