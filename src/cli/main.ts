import { Command, CommanderError } from "commander";
import { DstackError } from "../errors.js";
import { processDeps } from "./process-deps.js";
import type { CliDeps, CommandContext } from "./command-context.js";
import { registerApprove } from "./commands/approve.js";
import { registerArtifacts } from "./commands/artifacts.js";
import { registerConfig } from "./commands/config.js";
import { registerLogin } from "./commands/login.js";
import { registerLogs } from "./commands/logs.js";
import { registerOffers } from "./commands/offers.js";
import { registerRun } from "./commands/run.js";
import { registerRuns } from "./commands/runs.js";
import { registerSecrets } from "./commands/secrets.js";
import { registerStop } from "./commands/stop.js";
import { registerTags } from "./commands/tags.js";
import { registerTokens } from "./commands/tokens.js";
import { registerValidate } from "./commands/validate.js";
import { ExitCode, exitCodeFor } from "./exit-code.js";
import { packageVersion } from "./package-version.js";

export type { CliDeps } from "./command-context.js";

/**
 * The `dstack` command line (DESIGN.md §7). Runs the command `argv` names (without `node` and the
 * script) and resolves to the process's exit code; never throws and never exits the process, so
 * `bin/dstack.js` sets `process.exitCode` and lets stdout drain. Every error that stops a command ends
 * here, in one catch: printed as one line, `dstack: REASON`, and mapped to an exit code (`exitCodeFor`).
 */
export async function main(argv: readonly string[], deps: CliDeps = processDeps()): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok;
  const ctx: CommandContext = {
    io: deps.io,
    cwd: deps.cwd,
    env: deps.env ?? {},
    stdin: deps.stdin,
    tty: deps.tty ?? { out: false, err: false },
    exit: (code) => void (exitCode = code),
  };
  const program = new Command("dstack")
    .description("dstack-app: run ML workflows of .dstack/workflows.yaml")
    .version(packageVersion(), "-V, --version", "print the version of dstack")
    // Commander would call process.exit itself; throw instead, so the catch below maps every exit.
    .exitOverride()
    .configureOutput({ writeOut: deps.io.out, writeErr: deps.io.err })
    .showSuggestionAfterError();
  registerValidate(program, ctx);
  registerConfig(program, ctx);
  registerLogin(program, ctx);
  registerTokens(program, ctx);
  registerRun(program, ctx);
  registerRuns(program, ctx);
  registerLogs(program, ctx);
  registerStop(program, ctx);
  registerApprove(program, ctx);
  registerArtifacts(program, ctx);
  registerTags(program, ctx);
  registerSecrets(program, ctx);
  registerOffers(program, ctx);
  pointUsageErrorsAtHelp(program);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return exitCode;
  } catch (error) {
    // Commander has printed its own message (usage errors) or the help already.
    if (!(error instanceof CommanderError)) deps.io.err(`dstack: ${reason(error)}\n`);
    return exitCodeFor(error);
  }
}

/**
 * Makes each command's usage errors (a missing argument, an unknown option or subcommand, one argument
 * too many) one line that ends with where the usage is written, "; see `dstack tags add --help`",
 * unless commander's "did you mean" already says what to type. Set on every command, since commander
 * reports an error through the command it was parsing.
 */
function pointUsageErrorsAtHelp(command: Command): void {
  const help = `\`${commandPath(command)} --help\``;
  command.configureOutput({
    outputError: (text, write) => {
      const line = oneLine(text);
      write(`dstack: ${line.includes("; did you mean ") ? line : `${line.replace(/\.$/, "")}; see ${help}`}\n`);
    },
  });
  for (const sub of command.commands) pointUsageErrorsAtHelp(sub);
}

/** The words that name `command` on the command line: `dstack tags add`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null; c = c.parent) names.unshift(c.name());
  return names.join(" ");
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
