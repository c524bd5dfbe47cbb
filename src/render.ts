import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";

/** GitHub's limits on text we send (TECH-NOTES): check-run output fields and issue comments. */
export const GITHUB_LIMITS = { checkRunText: 65535, checkRunSummary: 65535, commentBody: 65536 } as const;

function findTemplatesDir(): string {
  // Sources run from src/ (tests) and the build from dist/src/: walk up to the package root.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, "templates");
    if (existsSync(path.join(dir, "package.json")) && existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error("templates/ not found next to package.json");
}

const hb = Handlebars.create();

/** A Markdown code fence longer than any backtick run in `text`, so log text can never close it. */
export function fenceFor(text: string): string {
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  return "`".repeat(Math.max(3, longest + 1));
}

hb.registerHelper("fence", (text: unknown) => fenceFor(String(text ?? "")));
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);
hb.registerHelper("join", (items: unknown, sep: unknown) => (Array.isArray(items) ? items.join(typeof sep === "string" ? sep : ", ") : ""));
/** Escapes Markdown's active characters in user text (workflow names, file names, reasons). */
hb.registerHelper("md", (text: unknown) => new Handlebars.SafeString(escapeMarkdown(String(text ?? ""))));
/** An artifact's path as link text (`escapeLinkText`): a file named `x](https:evil)` cannot become a link of ours. */
hb.registerHelper("linktext", (text: unknown) => new Handlebars.SafeString(escapeLinkText(String(text ?? ""))));
/** One POSIX shell word, always single-quoted: the only way a value enters `ec2-user-data.sh`. */
hb.registerHelper("sh", (value: unknown) => new Handlebars.SafeString(shellWord(String(value ?? ""))));

export function shellWord(text: string): string {
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

/**
 * A Markdown link's text that shows `text` (a file name a workflow chose) as written: escapes what
 * could end the link or add one (`]`, `[`), HTML (`<`, `&`), formatting (`` ` ``, `*`, `~`, backslash), and
 * `_` only at a word's edge, where it could start emphasis (GitHub ignores `_` inside a word), so
 * `model_v1.pt` stays as typed. A line break would end the list item: it becomes a space.
 */
export function escapeLinkText(text: string): string {
  return text.replace(/[\\`*~[\]<>&]|_(?![\p{L}\p{N}])|(?<![\p{L}\p{N}])_/gu, (c) => `\\${c}`).replace(/\r\n?|\n/g, " ");
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()<>#+!|~@]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

const cache = new Map<string, Handlebars.TemplateDelegate>();
let templatesDir: string | undefined;

/**
 * Renders `templates/{name}.hbs` with `view`. The only reader of templates/. In `*.html`
 * templates `{{ }}` escapes; log text in Markdown always sits in a fence built by `fence`.
 */
export function render(name: string, view: object): string {
  let t = cache.get(name);
  if (t === undefined) {
    templatesDir ??= findTemplatesDir();
    const source = readFileSync(path.join(templatesDir, `${name}.hbs`), "utf8");
    // Markdown templates carry Markdown we wrote (backticks, links): HTML entities would show
    // literally inside code spans. GitHub sanitises the rendered HTML; user text that could form
    // Markdown goes through {{md x}}. HTML pages (`*.html`) escape everything.
    t = hb.compile(source, { strict: false, noEscape: !name.endsWith(".html") });
    cache.set(name, t);
  }
  return t(view);
}

/** Cuts `text` to at most `max` characters, saying so at the end. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = "\n\n… (truncated to fit GitHub's limit)";
  return text.slice(0, max - note.length) + note;
}
