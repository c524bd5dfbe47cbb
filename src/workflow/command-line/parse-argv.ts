import type { Problem } from "../types.js";
import { argvProblem } from "./argv-problem.js";

/** Where an argument (or an inline `--flag=value` value) is in argv. */
export interface ArgRef {
  index: number;
  offset: number;
}

/** One option: a switch (no `value`) or an option with a value named `value` in messages (`N`, `SIZE`). */
export interface FlagSpec<S> {
  names: readonly string[];
  value?: string;
  /** Applies the option; returns an error message for a bad value. */
  apply(state: S, value: string, at: ArgRef): string | undefined;
}

/** What a parse does with what is not one of its options. */
export interface ArgvHandlers<S> {
  flags: readonly FlagSpec<S>[];
  /** Options that also match by a unique prefix of their long name (argparse's abbreviations). */
  prefixFlags?: readonly FlagSpec<S>[];
  /**
   * Any other argument: `option` tells whether it looks like an option (`-x`, `--xyz`), `quoted`
   * whether it came after `--`. Returns an error message, "rest" to hand every remaining argument
   * (this one included) to `rest`, or undefined when taken.
   */
  other(state: S, token: string, at: ArgRef, option: boolean, quoted: boolean): string | "rest" | undefined;
  rest?(state: S, tokens: string[], first: ArgRef): void;
}

/** Parses `argv` from `start`, applying options and handing the rest to `handlers.other`; problems are appended. */
export function parseArgv<S>(argv: readonly string[], start: number, state: S, handlers: ArgvHandlers<S>, problems: Problem[]): void {
  let quoted = false;
  for (let i = start; i < argv.length; i++) {
    const token = argv[i] as string;
    const at: ArgRef = { index: i, offset: 0 };
    if (!quoted && token === "--") {
      quoted = true;
      continue;
    }
    const option = !quoted && token.length > 1 && token.startsWith("-");
    const eq = token.startsWith("--") ? token.indexOf("=") : -1;
    const name = eq > 0 ? token.slice(0, eq) : token;
    const spec = option ? findFlag(name, handlers, argv, i, problems) : undefined;
    if (spec === "ambiguous") continue;
    if (spec === undefined) {
      const outcome = handlers.other(state, token, at, option, quoted);
      if (outcome === "rest") {
        handlers.rest?.(state, argv.slice(i), at);
        return;
      }
      if (outcome !== undefined) problems.push(argvProblem(argv, i, "invalid-argument", outcome));
      continue;
    }
    if (spec.value === undefined) {
      if (eq > 0) problems.push(argvProblem(argv, i, "invalid-argument", `\`${name}\` takes no value`));
      else report(spec.apply(state, "", at), argv, i, 0, problems);
      continue;
    }
    if (eq > 0) {
      report(spec.apply(state, token.slice(eq + 1), { index: i, offset: eq + 1 }), argv, i, eq + 1, problems);
      continue;
    }
    if (i + 1 >= argv.length) {
      problems.push(argvProblem(argv, i, "missing-value", `\`${name}\` needs a value, e.g. \`${name} ${spec.value}\``));
      continue;
    }
    i++;
    report(spec.apply(state, argv[i] as string, { index: i, offset: 0 }), argv, i, 0, problems);
  }
}

function report(message: string | undefined, argv: readonly string[], index: number, offset: number, problems: Problem[]): void {
  if (message !== undefined) problems.push(argvProblem(argv, index, "invalid-value", message, "error", offset));
}

function findFlag<S>(name: string, handlers: ArgvHandlers<S>, argv: readonly string[], index: number, problems: Problem[]): FlagSpec<S> | "ambiguous" | undefined {
  const exact = handlers.flags.find((f) => f.names.includes(name)) ?? handlers.prefixFlags?.find((f) => f.names.includes(name));
  if (exact !== undefined || !name.startsWith("--") || handlers.prefixFlags === undefined) return exact;
  const matches = handlers.prefixFlags.filter((f) => f.names.some((n) => n.startsWith("--") && n.startsWith(name)));
  if (matches.length <= 1) return matches[0];
  const options = matches.map((f) => `\`${f.names.find((n) => n.startsWith(name)) as string}\``).join(", ");
  problems.push(argvProblem(argv, index, "ambiguous-argument", `\`${name}\` is ambiguous: it could be ${options}; write it in full`));
  return "ambiguous";
}
