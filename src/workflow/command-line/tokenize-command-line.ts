import { InvalidInputError } from "../../errors.js";

/**
 * A space: ASCII or any Unicode space separator. A no-break space (U+00A0) comes from pasting rich
 * text or typing Option+Space, and a reader sees `/dstack run\u00a0train` as two words; inside
 * quotes it stays as written.
 */
const SPACE = /\p{Zs}/u;

/**
 * Splits a command line into arguments the way a POSIX shell would, without executing or expanding
 * anything: whitespace (`SPACE`, tab, newline) separates; `'...'` is literal; `"..."` is literal except `\"`, `\\`, `\$`,
 * `` \` `` and a backslash-newline; outside quotes a backslash keeps the next character (and a
 * backslash-newline joins lines). `$VAR`, globs, `;`, `|` and the like are plain text.
 *
 * @throws InvalidInputError (code `invalid_command_line`) for an unterminated quote, naming its column.
 */
export function tokenizeCommandLine(line: string): string[] {
  const tokens: string[] = [];
  let current = "";
  let inToken = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || (ch > "\u007f" && SPACE.test(ch))) {
      if (inToken) tokens.push(current);
      current = "";
      inToken = false;
      i++;
      continue;
    }
    inToken = true;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw unterminated("'", i);
      current += line.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      const [text, next] = readDoubleQuoted(line, i);
      current += text;
      i = next;
    } else if (ch === "\\") {
      const next = line[i + 1];
      if (next === undefined) current += "\\";
      else if (next === "\n") inToken = current !== "";
      else current += next;
      i += 2;
    } else {
      current += ch;
      i++;
    }
  }
  if (inToken) tokens.push(current);
  return tokens;
}

function readDoubleQuoted(line: string, start: number): [string, number] {
  let text = "";
  let i = start + 1;
  while (i < line.length) {
    const ch = line[i] as string;
    if (ch === '"') return [text, i + 1];
    if (ch === "\\") {
      const next = line[i + 1];
      if (next === '"' || next === "\\" || next === "$" || next === "`") {
        text += next;
        i += 2;
        continue;
      }
      if (next === "\n") {
        i += 2;
        continue;
      }
    }
    text += ch;
    i++;
  }
  throw unterminated('"', start);
}

function unterminated(quote: string, offset: number): InvalidInputError {
  return new InvalidInputError(`the ${quote === "'" ? "single" : "double"} quote at column ${offset + 1} is never closed; close it with ${quote}`, "invalid_command_line");
}
