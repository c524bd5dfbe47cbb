import { isMap, isScalar, isSeq, Scalar } from "yaml";
import type { Node, YAMLMap } from "yaml";
import { describeNode } from "../yaml-file.js";
import type { Entry } from "../yaml-file.js";
import type { FieldContext } from "./field-context.js";

/**
 * Shell lines: a list of strings, or one (multi-line) string, one command per line (a line ending
 * in `\` continues on the next, as in a shell script).
 */
export function readCommands(entry: Entry, ctx: FieldContext): string[] | undefined {
  const value = entry.value;
  if (value === null) return [];
  const text = ctx.shellText ?? ctx.text;
  if (isScalar(value)) return value.value === null ? [] : splitLines(text(value));
  if (!isSeq(value)) {
    ctx.report.error(entry.keyNode, "invalid-type", `\`${entry.key}\` must be a list of shell commands, e.g. \`${entry.key}: ["pip install -r requirements.txt"]\`; got ${describeNode(value)}`);
    return undefined;
  }
  const out: string[] = [];
  for (const item of ctx.yaml.items(value)) {
    if (isScalar(item) && item.value !== null) {
      out.push(text(item));
      if (item.type === Scalar.PLAIN) warnFoldedCommand(item, ctx);
    } else reportBadCommand(item, entry, ctx);
  }
  return out;
}

/**
 * An unquoted list item that goes on over the next line is ONE command: YAML joins the lines with a
 * space, as dstack's own stable-diffusion example (Dec 2022) shows, where a `- ` was missing and two
 * `pip install` lines became one. It runs as written, so this is a warning that names the fix.
 */
/** Programs a line of a workflow's `commands` usually starts with. */
const COMMAND_STARTS = new Set(["pip", "pip3", "python", "python3", "conda", "cd", "mkdir", "echo", "export", "git", "wget", "curl", "bash", "sh", "apt-get", "apt", "ls", "cp", "mv", "rm", "tar", "unzip", "source", "accelerate", "torchrun", "huggingface-cli"]);

function warnFoldedCommand(item: Scalar, ctx: FieldContext): void {
  const [start, end] = ctx.report.range(item);
  const newline = ctx.report.text.indexOf("\n", start);
  if (newline < 0 || newline >= end) return;
  // A long command folded on purpose goes on with its arguments (`--epochs 10`); only a line that
  // starts like a command of its own (the same program, or a common one) is likely a missing `- `.
  const firstWord = (at: number) => /^\s*([^\s]+)/.exec(ctx.report.text.slice(at, Math.min(end, at + 200)))?.[1] ?? "";
  const continued = firstWord(newline + 1);
  if (continued !== firstWord(start) && !COMMAND_STARTS.has(continued)) return;
  const next = ctx.report.position(newline + 1).line;
  ctx.report.warning(
    item,
    "folded-command",
    `this command goes on over line ${next}, and YAML joins its lines into one command; if line ${next} is another command, start it with \`- \`; if it is one command, write it on one line`,
  );
}

function reportBadCommand(item: Node | null, entry: Entry, ctx: FieldContext): void {
  if (isMap(item)) {
    reportTextReadAsMapping(item, "this command", ctx);
    return;
  }
  ctx.report.error(item ?? entry.keyNode, "invalid-type", `an item of \`${entry.key}\` must be a shell command; got ${describeNode(item)}`);
}

/**
 * A list item meant as text that YAML read as a mapping, with the fix in the user's own text: `- echo
 * a: b` is {"echo a": "b"} (the `: `), and inside `[...]` a `{` starts a mapping, as the one of
 * `${{ epochs }}` does in `[python train.py --epochs ${{ epochs }}]`.
 */
export function reportTextReadAsMapping(item: YAMLMap, what: string, ctx: FieldContext): void {
  const [start, end] = ctx.report.range(item);
  const raw = ctx.report.text.slice(start, end).trim();
  const fix = raw.includes("{") ? `\`{\` starts a mapping inside \`[...]\`; quote it: \`${JSON.stringify(raw)}\`` : `of \`: \` in it; quote it: \`- ${JSON.stringify(raw)}\``;
  ctx.report.error(item, "text-read-as-mapping", `${what} is read as a mapping because ${fix}`);
}

function splitLines(text: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const line of text.split(/\r?\n/)) {
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)}`;
      continue;
    }
    const full = (pending + line).trimEnd();
    pending = "";
    if (full.trim() !== "") out.push(full);
  }
  if (pending.trim() !== "") out.push(pending.trimEnd());
  return out;
}
