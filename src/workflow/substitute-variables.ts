import type { Scalar } from "yaml";
import { didYouMean } from "./did-you-mean.js";
import type { FileReporter } from "./file-reporter.js";
import { joinForShellContext, quoteForShellContext, shellContextAt } from "./shell-context.js";
import { shellJoin } from "./shell-quote.js";

/** What `${{ ... }}` may refer to in one workflow. */
export interface SubstitutionScope {
  /** The workflow's variables, by name as written (`batch-size`). */
  variables: Readonly<Record<string, string>>;
  /** Values of `${{ run.name }}` / `${{ run.args }}`; when absent those are kept as written. */
  run?: { name?: string; args?: readonly string[] };
  /** Where to define a missing variable, for the error message (`.dstack/variables.yaml` under `train:`). */
  defineHint: string;
  /** Names whose value came from the command line (a PR comment, `dstack run --name value`): quoted in shell lines. */
  fromCommandLine?: ReadonlySet<string>;
}

const EXPRESSION = /\$\{\{([^}]*)\}\}/g;
const NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Replaces every `${{ name }}` in a scalar's text. Unknown names and malformed expressions are
 * reported at their exact position and left as written. `onRunArgs` is told when `${{ run.args }}` is used.
 * In a shell line (`shell`), a value from the command line is shell-quoted like `${{ run.args }}`:
 * the repository's own variables are trusted shell text, a commenter's are one word.
 */
export function substituteVariables(
  text: string,
  node: Scalar,
  scope: SubstitutionScope,
  report: FileReporter,
  onRunArgs: () => void,
  shell = false,
): string {
  if (!text.includes("${{")) return text;
  // The node's raw text is sliced only to locate a problem: most substitutions have none.
  let raw: { text: string; start: number } | undefined;
  const rawText = (): { text: string; start: number } => (raw ??= rawSource(node, report));
  const result = text.replace(EXPRESSION, (whole: string, inner: string, offset: number) => {
    const name = inner.trim();
    if (name === "run.args") {
      onRunArgs();
      if (!scope.run) return whole;
      return shell ? joinForShellContext(scope.run.args ?? [], shellContextAt(text, offset)) : shellJoin(scope.run.args ?? []);
    }
    if (name === "run.name") return scope.run ? (scope.run.name ?? "") : whole;
    if (!NAME.test(name)) {
      report.error(locate(rawText(), whole, node), "invalid-substitution", `\`${whole}\` is not a variable reference; write \`\${{ name }}\` with a variable name (ASCII letters, digits, \`-\`, \`_\`, \`.\`)`);
      return whole;
    }
    const value = scope.variables[name];
    // Quoted for where it lands: `echo "msg ${{ msg }}"` must not run a `$(id)` given as --msg.
    if (value !== undefined) return shell && scope.fromCommandLine?.has(name) === true ? quoteForShellContext(value, shellContextAt(text, offset)) : value;
    const hint = didYouMean(name, [...Object.keys(scope.variables), "run.name", "run.args"]);
    const define = `define it in ${scope.defineHint}, or pass \`--${name} VALUE\` to \`dstack run\``;
    report.error(locate(rawText(), whole, node), "unknown-variable", `unknown variable \`${name}\`${hint ? `${hint} Otherwise ${define}` : `: ${define}`}`);
    return whole;
  });
  // Only a result still holding `${{` (a kept `${{ run.name }}`, an error) can hold an unclosed one.
  const unclosed = result.includes("${{") ? result.replace(EXPRESSION, "").indexOf("${{") : -1;
  if (unclosed >= 0) {
    const { text: rawWritten, start } = rawText();
    const offset = rawWritten.indexOf("${{", 0);
    report.error(offset >= 0 ? start + offset : node, "invalid-substitution", "`${{` is not closed; write `${{ name }}`");
  }
  return result;
}

function rawSource(node: Scalar, report: FileReporter): { text: string; start: number } {
  const [start, end] = report.range(node);
  return { text: report.text.slice(start, end), start };
}

/** The expression's own offsets in the file (the raw text holds it verbatim unless escapes split it). */
function locate(raw: { text: string; start: number }, whole: string, node: Scalar): readonly [number, number] | Scalar {
  const at = raw.text.indexOf(whole);
  return at < 0 ? node : [raw.start + at, raw.start + at + whole.length];
}
