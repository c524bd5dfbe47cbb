import { TAG_NAME_PATTERN, TAG_NAME_RULE } from "../runs/tag-name.js";
import { tokenizeCommandLine } from "../workflow/index.js";

export type Command =
  | { kind: "run"; line: string; args: string[] }
  | { kind: "stop"; line: string; runId: string }
  | { kind: "tag"; line: string; runId: string; tag: string }
  | { kind: "approve"; line: string; runId: string }
  | { kind: "help"; line: string }
  | { kind: "invalid"; line: string; message: string };

/** Lines longer than this are refused: no command needs them and parsing them costs. */
const MAX_LINE = 4000;
/** At most this many commands per comment. */
export const MAX_COMMANDS = 10;

export const USAGE = [
  "`/dstack run <workflow> [--variable value ...] [--gpu N]` runs a workflow of .dstack/workflows.yaml",
  "`/dstack run <provider> [args]` runs an ad-hoc workflow, e.g. `/dstack run bash -c 'nvidia-smi'`",
  "`/dstack stop <run>` stops a run",
  "`/dstack tag <run> <tag>` tags a finished run so `depends-on: [workflow:tag]` reuses its artifacts",
  "`/dstack approve <run>` starts a run that waits because the repository spent its daily budget",
  "`/dstack help` lists this repository's workflows",
];

/**
 * Finds the `/dstack` commands of a comment: one per line that starts with `/dstack`, outside
 * code blocks and quotes (a quoted earlier command must not run again).
 */
export function parseCommands(body: string): Command[] {
  const commands: Command[] = [];
  let inFence = false;
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (/^(```|~~~)/.test(line)) {
      inFence = !inFence;
      continue;
    }
    if (inFence || !/^\/dstack(\s|$)/.test(line)) continue;
    commands.push(parseLine(line));
    if (commands.length >= MAX_COMMANDS) break;
  }
  return commands;
}

function parseLine(line: string): Command {
  if (line.length > MAX_LINE) return { kind: "invalid", line: line.slice(0, 80) + "…", message: `the command is longer than ${MAX_LINE} characters` };
  let words: string[];
  try {
    words = tokenizeCommandLine(line).slice(1);
  } catch (err) {
    return { kind: "invalid", line, message: (err as Error).message };
  }
  const [verb, ...rest] = words;
  switch (verb) {
    case "run":
      if (rest.length === 0) return { kind: "invalid", line, message: "say which workflow to run: `/dstack run <workflow>`" };
      return { kind: "run", line, args: rest };
    case "stop":
      if (rest.length !== 1 || rest[0] === undefined) return { kind: "invalid", line, message: "usage: `/dstack stop <run>`" };
      return { kind: "stop", line, runId: rest[0] };
    case "tag":
      if (rest.length !== 2 || rest[0] === undefined || rest[1] === undefined) return { kind: "invalid", line, message: "usage: `/dstack tag <run> <tag>`" };
      if (!TAG_NAME_PATTERN.test(rest[1])) return { kind: "invalid", line, message: `\`${rest[1]}\` is not a valid tag (${TAG_NAME_RULE})` };
      return { kind: "tag", line, runId: rest[0], tag: rest[1] };
    case "approve":
      if (rest.length !== 1 || rest[0] === undefined) return { kind: "invalid", line, message: "usage: `/dstack approve <run>`" };
      return { kind: "approve", line, runId: rest[0] };
    case "help":
    case undefined:
      return { kind: "help", line };
    default:
      return { kind: "invalid", line, message: `unknown command \`${verb}\`; the commands are run, stop, tag, approve and help` };
  }
}
