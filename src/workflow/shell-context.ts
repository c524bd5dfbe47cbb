import { shellQuote } from "./shell-quote.js";

/** Where a position of a POSIX shell line is: outside quotes, inside `'...'` or inside `"..."`. */
export type ShellContext = "plain" | "single" | "double";

/** The quoting context at `index` of `line`, following `'`, `"` and backslash escapes as sh reads them. */
export function shellContextAt(line: string, index: number): ShellContext {
  let context: ShellContext = "plain";
  for (let i = 0; i < index; i++) {
    const c = line[i];
    if (context === "single") {
      if (c === "'") context = "plain";
    } else if (c === "\\") {
      i++;
    } else if (context === "double") {
      if (c === '"') context = "plain";
    } else if (c === "'") {
      context = "single";
    } else if (c === '"') {
      context = "double";
    }
  }
  return context;
}

/**
 * `text` as literal text at a place of that context. Outside quotes it is one quoted word
 * (`'$(id); ls'`); inside `"..."`, where `$`, backticks, `"` and `\` still act, each is
 * backslash-escaped (a single-quoted word there would keep its quotes and run `$(id)`); inside
 * `'...'` each `'` closes the quote, adds an escaped one and reopens it.
 */
export function quoteForShellContext(text: string, context: ShellContext): string {
  switch (context) {
    case "plain":
      return shellQuote(text);
    case "double":
      return text.replace(/[\\$`"]/g, "\\$&");
    case "single":
      return text.replace(/'/g, "'\\''");
    default: {
      const never: never = context;
      return never;
    }
  }
}

/** Arguments as literal text at a place of that context, separated by spaces (`${{ run.args }}`). */
export function joinForShellContext(args: readonly string[], context: ShellContext): string {
  return args.map((a) => quoteForShellContext(a, context)).join(" ");
}
