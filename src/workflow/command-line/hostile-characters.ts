import type { Problem } from "../types.js";
import { argvProblem } from "./argv-problem.js";

/**
 * Control characters (but tab and line feed), zero-width and bidirectional formatting characters:
 * invisible in a PR comment or a terminal, they make a word read as something else (`--g\u200bpu`
 * is not `--gpu`; a right-to-left override reorders what a reviewer sees, as in "Trojan Source").
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const INVISIBLE = /[\u0000-\u0008\u000b-\u001f\u007f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u;

/** Dashes that look like `-` (hyphen, en and em dash, minus, fullwidth): editors turn `--gpu` into `—gpu`. */
const DASH_LOOKALIKE = /^[\u2010-\u2015\u2212\ufe58\ufe63\uff0d]+(?=\p{L})/u;

/**
 * The first argument holding an invisible character, or starting with a dash look-alike before a
 * letter, as an error at its column: the strict grammar refuses such a line rather than reading
 * the look-alike as a positional argument that reaches the program.
 */
export function hostileCharacterProblem(argv: readonly string[]): Problem | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const invisible = INVISIBLE.exec(arg);
    if (invisible !== null) {
      const code = (invisible[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
      return argvProblem(argv, i, "invalid-character", `argument ${i + 1} holds an invisible or control character (U+${code}) at offset ${invisible.index}; retype it`, "error");
    }
    const dash = DASH_LOOKALIKE.exec(arg);
    if (dash !== null) {
      const code = (dash[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, "0");
      const meant = `--${arg.slice(dash[0].length)}`;
      return argvProblem(argv, i, "invalid-character", `\`${arg}\` starts with U+${code}, a dash that is not \`-\`; write \`${meant}\` (an editor may have replaced \`--\`)`);
    }
  }
  return undefined;
}
