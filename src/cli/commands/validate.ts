import path from "node:path";
import type { Command } from "commander";
import { formatProblem, hasErrors, loadWorkflows } from "../../workflow/index.js";
import type { Problem } from "../../workflow/index.js";
import { NotFoundError } from "../../errors.js";
import type { CliIo } from "../cli-io.js";
import type { CommandContext } from "../command-context.js";
import { ExitCode } from "../exit-code.js";
import { findDstackRoot, pathFromCwd } from "../find-dstack-root.js";
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
    .description(
      "check .dstack/ of DIR offline, like a compiler: every problem as `file:line:col: severity: message` (paths relative to DIR; without DIR, to the current directory); exit 1 when any is an error",
    )
    .argument("[dir]", "the directory that holds .dstack/ (default: the current one or the nearest above it that has one, up to the repository's top)")
    .option("--json", "print the problems as a JSON array of {file, line, column, severity, message}")
    .action(async (dir: string | undefined, options: { json?: boolean }) => {
      ctx.exit(await validate(ctx, { dir, json: options.json === true }));
    });
}

/**
 * Reads `.dstack/` of `input.dir` (without one, of the folder {@link findDstackRoot} finds, so it
 * works from any subfolder of the repository, as git does) and prints every problem the workflow
 * model finds, line and column 1-based, with paths relative to DIR, or without DIR relative to the
 * current directory, so a terminal or editor opens them from where the user stands: text on stdout, one per line, with a count on
 * stderr; or, with `json`, one JSON array on stdout. Returns `failure` when any problem is an error:
 * warnings alone pass.
 * @throws NotFoundError when there is no `.dstack/` to validate (see `readDstackFolder`).
 */
async function validate(deps: { io: CliIo; cwd: string }, input: { dir: string | undefined; json: boolean }): Promise<ExitCode> {
  const root = input.dir === undefined ? await findDstackRoot(deps.cwd) : path.resolve(deps.cwd, input.dir);
  if (root === undefined) {
    throw new NotFoundError(
      "no `.dstack/` folder in the current directory or above it (up to the repository's top): nothing to validate (pass the repository's directory: `dstack validate DIR`)",
    );
  }
  const up = path.relative(path.resolve(deps.cwd), root);
  const label = input.dir !== undefined ? `\`${input.dir}\`` : up === "" ? "the current directory" : `\`${up}\``;
  const files = await readDstackFolder(root, label);
  // An explicit DIR keeps paths relative to it (`.dstack/workflows.yaml`, the contract since the first
  // release); a `.dstack/` found above the current directory is named from where the user stands.
  const problems = loadWorkflows(files).problems.map((p) => (input.dir === undefined ? { ...p, file: pathFromCwd(deps.cwd, root, p.file) } : p));
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
