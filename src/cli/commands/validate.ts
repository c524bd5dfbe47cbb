import path from "node:path";
import type { Command } from "commander";
import { formatProblem, hasErrors, loadWorkflows } from "../../workflow/index.js";
import type { Problem } from "../../workflow/index.js";
import type { CliIo } from "../cli-io.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-code.js";
import { readDstackFolder } from "../read-dstack-folder.js";

/** One problem as `dstack validate --json` prints it (DESIGN.md §7). */
interface ValidateJsonProblem {
  file: string;
  line: number;
  column: number;
  severity: Problem["severity"];
  message: string;
}

/** `dstack validate [--json] [dir]`: checks `DIR/.dstack/` offline, with the model the service uses. */
export function registerValidate(program: Command, ctx: CommandContext): void {
  program
    .command("validate")
    .description("check .dstack/ of DIR offline, like a compiler: every problem as `file:line:col: severity: message`; exit 1 when any is an error")
    .argument("[dir]", "the repository directory that holds .dstack/", ".")
    .option("--json", "print the problems as a JSON array of {file, line, column, severity, message}")
    .action(async (dir: string, options: { json?: boolean }) => {
      ctx.exit(await validate(ctx, { dir, json: options.json === true }));
    });
}

/**
 * Reads `.dstack/` of `input.dir` and prints every problem the workflow model finds (paths relative
 * to DIR, line and column 1-based): text on stdout, one per line, with a count on stderr; or, with
 * `json`, one JSON array on stdout. Returns `failure` when any problem is an error: warnings alone pass.
 * @throws NotFoundError when there is no `.dstack/` to validate (see `readDstackFolder`).
 */
async function validate(deps: { io: CliIo; cwd: string }, input: { dir: string; json: boolean }): Promise<ExitCode> {
  const label = input.dir === "." ? "the current directory" : `\`${input.dir}\``;
  const files = await readDstackFolder(path.resolve(deps.cwd, input.dir), label);
  const { problems } = loadWorkflows(files);
  if (input.json) {
    deps.io.out(`${JSON.stringify(problems.map(toJson), null, 2)}\n`);
  } else {
    for (const problem of problems) deps.io.out(`${formatProblem(problem)}\n`);
    deps.io.err(`${summary(files.length, problems)}\n`);
  }
  return hasErrors(problems) ? ExitCode.failure : ExitCode.ok;
}

function toJson(p: Problem): ValidateJsonProblem {
  return { file: p.file, line: p.line, column: p.column, severity: p.severity, message: p.message };
}

function summary(files: number, problems: readonly Problem[]): string {
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.length - errors;
  const checked = `${count(files, "file")} checked`;
  if (problems.length === 0) return `${checked}: no problems`;
  return `${checked}: ${count(errors, "error")}, ${count(warnings, "warning")}`;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
