/**
 * Quotes one argument for a POSIX shell, only when it needs it: `Hello, world!` -> `'Hello, world!'`.
 * Used where dstack re-joined arguments into one command line (`${{ run.args }}`, docker's COMMAND).
 */
export function shellQuote(arg: string): string {
  if (arg !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

/** Joins arguments into one shell line, quoting those that need it. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(" ");
}
