import { Command, CommanderError } from "commander";
import { DstackError } from "../errors.js";
import type { CliIo } from "./cli-io.js";
import { processIo } from "./cli-io.js";
import type { CommandContext } from "./command-context.js";
import { registerValidate } from "./commands/validate.js";
import { ExitCode, exitCodeFor } from "./exit-code.js";

/** What `main` needs from the process; tests pass a buffer and a temp directory. */
export interface CliDeps {
  io: CliIo;
  cwd: string;
}

/**
 * The `dstack` command line (DESIGN.md §7). Runs the command `argv` names (without `node` and the
 * script) and resolves to the process's exit code; never throws and never exits the process, so
 * `bin/dstack.js` sets `process.exitCode` and lets stdout drain. Every error that stops a command ends
 * here, in one catch: printed as one line, `dstack: REASON`, and mapped to an exit code (`exitCodeFor`).
 */
export async function main(argv: readonly string[], deps: CliDeps = { io: processIo, cwd: process.cwd() }): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok;
  const ctx: CommandContext = { ...deps, exit: (code) => void (exitCode = code) };
  const program = new Command("dstack")
    .description("dstack-app: run ML workflows of .dstack/workflows.yaml")
    // Commander would call process.exit itself; throw instead, so the catch below maps every exit.
    .exitOverride()
    .configureOutput({ writeOut: deps.io.out, writeErr: deps.io.err, outputError: (text, write) => write(`dstack: ${oneLine(text)}\n`) })
    .showSuggestionAfterError();
  registerValidate(program, ctx);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    // Commander has printed its own message (usage errors) or the help already.
    if (!(error instanceof CommanderError)) deps.io.err(`dstack: ${reason(error)}\n`);
    return exitCodeFor(error);
  }
}

/** Commander's `error: unknown option '--jsn'\n(Did you mean --json?)\n` as one line. */
function oneLine(text: string): string {
  return text
    .trim()
    .replace(/^error: /, "")
    .replace(/\s*\n\s*\(Did you mean (.*)\?\)$/, "; did you mean $1?")
    .replace(/\s*\n\s*/g, " ");
}

function reason(error: unknown): string {
  if (error instanceof DstackError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `internal error: ${message.split("\n")[0] ?? message} (this is a bug in dstack-app; please report it)`;
}
