import { TAG_NAME_PATTERN, TAG_NAME_RULE } from "../runs/tag-name.js";
import { didYouMean } from "../workflow/did-you-mean.js";
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

/** The verbs, lower case; `/DSTACK RUN` reads as `/dstack run` (phones capitalise, people shout). */
const VERBS = ["run", "stop", "tag", "approve", "help"];

/** A line that starts a command (case-insensitive, as the intake's `isHandled` reads it). */
const COMMAND_START = /^\/dstack(\s|$)/i;

/**
 * A fenced code block's opening line (CommonMark 4.5): three or more backticks or tildes; a
 * backtick fence's info string holds no backtick, so "```nvidia-smi``` fails" is inline code.
 */
const FENCE_OPEN = /^(`{3,}(?!.*`)|~{3,})/;

/**
 * Finds the `/dstack` commands of a comment: one per line that starts with `/dstack`, outside
 * code blocks, HTML comments and quotes (a quoted earlier command must not run again; text the
 * rendered comment does not show, or shows as code, is not a command).
 */
export function parseCommands(body: string): Command[] {
  const commands: Command[] = [];
  let fence: string | undefined;
  let inHtmlComment = false;
  for (const raw of body.split(/\r?\n|\r/)) {
    const line = raw.trim();
    if (fence !== undefined) {
      if (closesFence(line, fence)) fence = undefined;
      continue;
    }
    if (inHtmlComment) {
      inHtmlComment = !line.includes("-->");
      continue;
    }
    const opened = FENCE_OPEN.exec(line);
    if (opened !== null) {
      fence = opened[1];
      continue;
    }
    if (/<!--(?![\s\S]*-->)/.test(line)) inHtmlComment = true; // a comment left open runs to a later line's `-->`
    if (!COMMAND_START.test(line)) continue;
    commands.push(parseLine(line));
    if (commands.length >= MAX_COMMANDS) break;
  }
  return commands;
}

/** A fence is closed only by the same character, at least as many times, and nothing else on the line. */
function closesFence(line: string, fence: string): boolean {
  return line.startsWith(fence) && [...line].every((c) => c === fence[0]);
}

function parseLine(line: string): Command {
  if (line.length > MAX_LINE) return { kind: "invalid", line: line.slice(0, 80) + "…", message: `the command is longer than ${MAX_LINE} characters` };
  let words: string[];
  try {
    words = tokenizeCommandLine(line).slice(1);
  } catch (err) {
    return { kind: "invalid", line, message: (err as Error).message };
  }
  const [word, ...rest] = words;
  const verb = word?.toLowerCase();
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
    default: {
      // The reply lists the commands below the message; a hint names the likely one (`help.`, `rnu`).
      const hint = didYouMean(verb, VERBS);
      return { kind: "invalid", line, message: `unknown command \`${word}\`${hint === "" ? "; the commands are run, stop, tag, approve and help" : hint}` };
    }
  }
}
