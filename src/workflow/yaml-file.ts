import { isAlias, isMap, isScalar, isSeq, visit } from "yaml";
import type { Alias, Document, Node, Range, Scalar, YAMLMap } from "yaml";
import { FileReporter } from "./file-reporter.js";
import { parseYamlFast } from "./parse-yaml-fast.js";
import { scanYaml } from "./scan-yaml.js";
import { aliasTargets, parseDocumentWithin, withinYamlLimits } from "./yaml-limits.js";
import type { Problem, SourceFile } from "./types.js";

/**
 * How a file is parsed: `auto` tries the one-pass scanner (`scanYaml`), then the js-yaml front end
 * (`parseYamlFast`), and falls back to the `yaml` package's `parseDocument`; `full` always uses
 * `parseDocument`. Internal: tests use `full` to check that the fast ones give the same result.
 */
export type YamlParseMode = "auto" | "full";

/** A key of a mapping with its (alias-resolved) value; `value` is null for `key:` with nothing after. */
export interface Entry {
  key: string;
  keyNode: Node;
  value: Node | null;
}

/**
 * One parsed YAML file: its root node, a reporter that locates problems in it, and helpers that
 * walk mappings the way a reader expects (aliases followed, `<<` merge keys expanded).
 * Parsing never throws: syntax errors and duplicate keys become problems at their position.
 */
export class YamlFile {
  readonly report: FileReporter;
  readonly root: Node | null;
  /** Which parser read the file: `fast` (valid, plain YAML) or `full` (anything else, or when asked). */
  readonly parsedBy: "fast" | "full";
  /** Which front end read it: `scanner` and `js-yaml` are the two fast ones. */
  readonly frontEnd: "scanner" | "js-yaml" | "parseDocument";
  /**
   * The lines with YAML syntax errors (empty when there are none). What the parser recovered around
   * them is still read, but `loadWorkflows` keeps only the problems that explain a syntax error:
   * the rest are follow-on errors about keys the author never wrote.
   */
  readonly syntaxErrorLines: ReadonlySet<number> = new Set();
  private readonly target: (alias: Alias) => unknown;

  constructor(file: SourceFile, sink: Problem[], mode: YamlParseMode = "auto") {
    this.report = new FileReporter(file.path, file.text, sink);
    // A file a fast front end reads has no syntax error, warning or duplicate key to report.
    const scanned = mode === "auto" ? scanYaml(file.text) : undefined;
    if (scanned !== undefined) {
      // Nothing to resolve or limit: the scanner reads no alias, and stops short of MAX_NESTING.
      this.parsedBy = "fast";
      this.frontEnd = "scanner";
      this.target = () => undefined;
      this.root = scanned;
      return;
    }
    const fast = mode === "auto" ? parseYamlFast(file.text) : undefined;
    if (fast !== undefined) {
      this.parsedBy = "fast";
      this.frontEnd = "js-yaml";
      this.target = (alias) => fast.aliases.get(alias);
      const root = this.resolve(fast.root);
      this.root = root !== null && withinYamlLimits(root, this.target, this.report) ? root : null;
      return;
    }
    this.parsedBy = "full";
    this.frontEnd = "parseDocument";
    // uniqueKeys: false so that we report duplicates ourselves, with both positions (dstack kept the last).
    const doc = parseDocumentWithin(file.text, { uniqueKeys: false, prettyErrors: false }, this.report);
    if (doc === undefined) {
      this.target = () => undefined;
      this.root = null;
      return;
    }
    const targets = aliasTargets(doc.contents);
    this.target = (alias) => targets.get(alias);
    // One error per line: the parser often reports a mistake twice at one place, in two words.
    const lines = new Set<number>();
    const textLines = doc.errors.length > 0 ? file.text.split(/\r?\n/).map((l) => l.slice(0, HINT_LINE_CHARS)) : [];
    for (const error of doc.errors) {
      const { line } = this.report.position(error.pos[0]);
      if (lines.has(line)) continue;
      lines.add(line);
      const hint = syntaxHint(error.code, error.message, textLines, line);
      this.report.error([error.pos[0], error.pos[1]], "yaml-syntax", `YAML syntax error: ${firstLine(error.message)}${hint}`);
    }
    this.syntaxErrorLines = lines;
    for (const warning of doc.warnings) {
      if (warning.code === "TAG_RESOLVE_FAILED") this.reportTag(warning.pos[0]);
      else this.report.warning([warning.pos[0], warning.pos[1]], "yaml-warning", `YAML: ${firstLine(warning.message)}`);
    }
    const root = doc.errors.length > 0 && doc.contents === null ? null : this.resolve(doc.contents);
    const within = root === null || withinYamlLimits(root, this.target, this.report);
    this.root = within ? root : null;
    if (within) this.reportDuplicateKeys(doc);
  }

  /**
   * A tag the core schema does not know (`!!js/function`, `!!python/object/apply:os.system`, `!foo`)
   * is an error, not yaml's warning: the value would otherwise be read as the plain text after it.
   * Nothing here constructs objects from tags; the error says so.
   */
  private reportTag(offset: number): void {
    const tag = /^!\S*/.exec(this.report.text.slice(offset, offset + 200))?.[0] ?? "!";
    this.report.error(
      [offset, offset + tag.length],
      "custom-tag",
      `the tag \`${tag}\` is not allowed: .dstack/ files are plain YAML, and tags never construct or run anything here; remove it`,
    );
  }

  /** Follows aliases (`*name`) to the node they stand for. */
  resolve(node: unknown): Node | null {
    // A scanned tree holds scalars, mappings and sequences only; the readers call this for every node.
    if (this.frontEnd === "scanner") return node as Node;
    let current: unknown = node;
    for (let hops = 0; isAlias(current) && hops < 64; hops++) {
      current = this.target(current);
    }
    if (isAlias(current)) return null;
    return isScalar(current) || isMap(current) || isSeq(current) ? current : null;
  }

  /** The entries of a mapping in source order, with `<<: *base` merges expanded (own keys win). */
  entries(map: YAMLMap): Entry[] {
    if (this.frontEnd === "scanner") {
      const scanned = scannedEntries(map);
      if (scanned !== undefined) return scanned;
    }
    const own: Entry[] = [];
    const merged: Entry[] = [];
    for (const pair of map.items) {
      const keyNode = this.resolve(pair.key);
      const value = this.resolve(pair.value);
      if (!isScalar(keyNode)) {
        const where = keyNode ?? (isScalar(pair.value) ? pair.value : map);
        this.report.error(where, "invalid-key", "a key must be a plain word, not a list or a mapping");
        continue;
      }
      const key = keyNode.value === null ? "" : String(keyNode.value);
      if (key === "<<" && keyNode.type === "PLAIN") {
        for (const base of isSeq(value) ? value.items.map((item) => this.resolve(item)) : [value]) {
          if (isMap(base)) merged.push(...this.entries(base));
          else this.report.error(keyNode, "invalid-merge", "`<<` merges a mapping (`<<: *anchor`) into this one");
        }
        continue;
      }
      own.push({ key, keyNode, value: isScalar(value) && value.value === null && value.source === "" ? null : value });
    }
    if (merged.length === 0) return own;
    const ownKeys = new Set(own.map((e) => e.key));
    return [...merged.filter((e) => !ownKeys.has(e.key)), ...own];
  }

  /** Items of a list, aliases resolved; a null item is `-` with nothing after it. */
  items(seq: Node): Array<Node | null> {
    if (!isSeq(seq)) return [];
    if (this.frontEnd === "scanner") {
      // A copy only where an item is empty (`-` alone, rare): callers iterate and never change the array.
      const items = seq.items as Node[];
      return items.some(isScannedEmpty) ? items.map((item) => (isScannedEmpty(item) ? null : item)) : items;
    }
    return seq.items.map((item) => {
      const node = this.resolve(item);
      return isScalar(node) && node.value === null && node.source === "" ? null : node;
    });
  }

  private reportDuplicateKeys(doc: Document.Parsed): void {
    const report = this.report;
    visit(doc, {
      Map(_, map) {
        const first = new Map<string, Scalar>();
        for (const pair of map.items) {
          if (!isScalar(pair.key) || pair.key.value === null) continue;
          const key = String(pair.key.value);
          const earlier = first.get(key);
          if (earlier === undefined) {
            first.set(key, pair.key);
            continue;
          }
          const line = report.position(report.range(earlier)[0]).line;
          report.error(
            pair.key,
            "duplicate-key",
            `duplicate key \`${key}\` (first at line ${line}); YAML keeps only one of them (dstack silently kept the last): remove or merge the other`,
          );
        }
      },
    });
  }
}

/**
 * In a scanned tree (keys scalars, values nodes, no alias) the one node with an empty range is the
 * empty value of `key:` or `-`: a cheaper test than the node guards, which the readers run on every node.
 */
function isScannedEmpty(node: Node): boolean {
  const range = node.range as Range;
  return range[0] === range[1];
}

/** `entries` of a scanned mapping, or undefined when it has a `<<` key (the general path merges it). */
function scannedEntries(map: YAMLMap): Entry[] | undefined {
  const items = map.items;
  // Sized once and filled by index: no growing, and the loop reads `items` without an iterator.
  const entries = new Array<Entry>(items.length);
  for (let i = 0; i < items.length; i++) {
    const pair = items[i] as YAMLMap["items"][number];
    const keyNode = pair.key as Scalar;
    const raw = keyNode.value;
    // Keys are strings but for the odd `1:` or `true:`: no String() call for them.
    const key = typeof raw === "string" ? raw : raw === null ? "" : String(raw);
    if (key === "<<") return undefined;
    const value = pair.value as Node;
    entries[i] = { key, keyNode, value: isScannedEmpty(value) ? null : value };
  }
  return entries;
}

/** How much of a line the hints look at: their patterns are near the start, and a 200 KB line stays cheap. */
const HINT_LINE_CHARS = 2000;

/**
 * What the parser's words usually mean, for the mistakes people make in workflow files: a line
 * indented one space too far or too little, and a value holding `: ` without quotes.
 */
function syntaxHint(code: string, message: string, lines: readonly string[], line: number): string {
  // Where a line's key starts: `  - name: a` has its key at 4, as `    provider: b` below it.
  const indent = (l: string) => /^[ ]*(?:-[ ]+)*/.exec(l)?.[0].length ?? 0;
  const here = lines[line - 1] ?? "";
  if (/[[{][^'"]*\$\{\{/.test(here)) {
    return "; inside `[...]` or `{...}` the `{` of `${{ }}` starts a mapping: quote the value, e.g. `\"${{ name }}\"`";
  }
  if (code === "BLOCK_AS_IMPLICIT_KEY" || code === "MULTILINE_IMPLICIT_KEY") {
    if (/:\s.*:\s/.test(here)) return "; a value that holds `: ` must be quoted, e.g. `key: 'a: b'`";
    let next = line;
    while (next < lines.length && (lines[next] ?? "").trim() === "") next++;
    const after = lines[next];
    if (after !== undefined && indent(after) > indent(here) && !/:\s*(#.*)?$/.test(here)) {
      return `; line ${next + 1} is indented more than line ${line}, so YAML reads it as part of line ${line}'s value: align it with the keys above it`;
    }
    const bare = here.trim();
    if (!bare.startsWith("- ") && !/:(\s|$)/.test(bare)) {
      return `; line ${line} (\`${bare.slice(0, 40)}\`) is neither \`key: value\` nor a \`- \` list item, among lines that are: write it as one of them`;
    }
    return "";
  }
  if (code === "MISSING_CHAR" && message.includes("without - indicator")) {
    let previous = line - 2;
    while (previous >= 0 && (lines[previous] ?? "").trim() === "") previous--;
    const before = lines[previous];
    if (before !== undefined && indent(here) < indent(before)) {
      return `; line ${line} is indented less than line ${previous + 1} above it: align it with the keys of its mapping`;
    }
  }
  return "";
}

function firstLine(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/ at line \d+, column \d+:?$/, "");
}

/** How a node reads to a user: "a mapping", "a list", "`abc`", "nothing". */
export function describeNode(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    if (node.value === null) return "nothing";
    return `\`${scalarSource(node)}\``;
  }
  return "an unsupported value";
}

/**
 * A scalar's text as the user wrote it: plain scalars keep their source (`3.10` stays "3.10", not
 * the float 3.1; `true` stays "true"), quoted and block scalars give their string value.
 */
export function scalarSource(node: Scalar): string {
  if (node.value === null) return "";
  if (node.type === "PLAIN" && typeof node.source === "string") return node.source;
  return String(node.value);
}
