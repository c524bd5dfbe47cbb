import { Scalar, Schema, isScalar } from "yaml";
import type { Node, Pair, Range, ScalarTag, YAMLMap, YAMLSeq } from "yaml";
import { MAX_NESTING } from "./yaml-limits.js";
import { makeMap, makePair, makeScalar, makeSeq } from "./yaml-node-factory.js";

/**
 * Reads the YAML that `.dstack/` files are written in, in one pass over the text, into the node tree
 * `parseDocument` builds for it (`Scalar` with value, `source`, `type`; `YAMLMap`, `YAMLSeq`, `Pair`;
 * the same `range` offsets, so every problem is located the same). The subset: block mappings and
 * sequences (indented with spaces, compact `- key: v` items), plain scalars on one line, single- and
 * double-quoted scalars (over several lines as values of block collections), `|`/`>` block scalars (clip or `-` chomping), one-line flow collections
 * (`[a, b]`, `{k: v}`) and comments where they change no range.
 *
 * Returns undefined for anything else (anchors, aliases, tags, directives, several documents,
 * explicit or complex keys, multi-line plain scalars, keys and flow collections, tabs, control
 * characters, duplicate keys, a scalar as the whole file, and every syntax error): the caller then
 * reads the file with a parser that handles all of YAML and reports each problem at its position.
 * So a tree from here is one `parseDocument` gives without an error or warning; the differential
 * tests (test/workflow/scan-yaml.test.ts) hold it to that on the corpus and on generated, mutated
 * and random text.
 */
export function scanYaml(text: string): Node | undefined {
  if (UNSCANNED.test(text)) return undefined;
  try {
    return new Scanner(text).document();
  } catch (error) {
    if (error === OUTSIDE) return undefined;
    throw error;
  }
}

/** Thrown (one instance, no stack to capture) wherever the text leaves the subset. */
class OutsideSubset extends Error {}
const OUTSIDE = new OutsideSubset("outside the scanned YAML subset");

function outside(): never {
  throw OUTSIDE;
}

const NEWLINE = 10;
const SPACE = 32;
const BANG = 33;
const DQUOTE = 34;
const HASH = 35;
const PERCENT = 37;
const AMPERSAND = 38;
const SQUOTE = 39;
const STAR = 42;
const PLUS = 43;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const GT = 62;
const QUESTION = 63;
const AT = 64;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const BACKTICK = 96;
const LBRACE = 123;
const PIPE = 124;
const RBRACE = 125;

/**
 * Collections nested deeper are left to the other parsers, which report them: so a scanned tree is
 * always within `MAX_NESTING` (its scalars one level below the deepest collection), and recursion
 * stays bounded.
 */
const MAX_DEPTH = MAX_NESTING - 1;
/** parseDocument refuses an implicit block key whose `:` is further than this from its start. */
const MAX_KEY_LENGTH = 1024;

/**
 * Text left to the other parsers whatever its structure: tabs, CR, BOM, control and special Unicode
 * characters, lone surrogates (the parsers' whitespace and error rules differ there), and lines
 * starting with `---`, `...` or `%` (document markers and directives). One regular expression: V8
 * runs it several times faster than a loop over the characters.
 */
// eslint-disable-next-line no-control-regex -- control characters are among what it looks for
const UNSCANNED = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]|^(?:---|\.\.\.|%)/mu;

/** The core schema's implicit scalar types, in the order `parseDocument` tries them. */
const CORE_TAGS: readonly ScalarTag[] = new Schema({}).tags.filter(
  (tag): tag is ScalarTag => tag.default === true && !("collection" in tag && tag.collection !== undefined) && tag.test !== undefined,
);

/**
 * The value `parseDocument` gives a plain scalar (YAML 1.2 core schema): null, boolean, number or
 * the text itself. Throws when the schema would report an error.
 */
export function plainScalarValue(source: string): unknown {
  const first = source.charCodeAt(0);
  // Only numbers (and `.inf`/`.nan`) start with a digit, a sign or a dot; null and booleans with one of `~nNtTfF`.
  if (!((first >= 0x30 && first <= 0x39) || first === DASH || first === PLUS || first === DOT)) {
    return source.length <= 5 && WORD_STARTS.includes(source[0] as string) ? wordValue(source) : source;
  }
  // Numbers end with a digit, a hex digit, a dot or the f/N/n of inf/nan: skip the schema's tests for the rest.
  const last = source.charCodeAt(source.length - 1);
  const hexOrDot = (last >= 0x30 && last <= 0x39) || (last >= 0x41 && last <= 0x46) || (last >= 0x61 && last <= 0x66) || last === DOT || last === 0x4e || last === 0x6e;
  if (!hexOrDot) return source;
  // The common numbers (`4`, `3.10`), as the core schema's `int` and `float` resolve them (parseInt,
  // parseFloat): read by a loop, which V8 runs faster than a regular expression on such short text.
  let at = 0;
  while (isDigit(source.charCodeAt(at))) at++;
  if (at > 0 && at === source.length) return parseInt(source, 10);
  if (at > 0 && source.charCodeAt(at) === DOT) {
    do at++;
    while (isDigit(source.charCodeAt(at)));
    if (at === source.length) return parseFloat(source);
  }
  // A letter at the end (`16GB`) makes a number only in `0x1F`, `.inf` and `.nan`: skip the schema's tests for the rest.
  const letterEnd = !isDigit(last) && last !== DOT;
  if (letterEnd && !source.startsWith("0x") && !source.includes(".")) return source;
  for (const tag of CORE_TAGS) {
    if (tag.test?.test(source)) {
      const value = tag.resolve(source, outside, {});
      return isScalar(value) ? value.value : value;
    }
  }
  return source;
}

const WORD_STARTS = "~nNtTfF";

/** The core schema's null and booleans (`~`, `null`, `True`, `FALSE`, ...); the text itself otherwise. */
function wordValue(source: string): unknown {
  switch (source) {
    case "~":
    case "null":
    case "Null":
    case "NULL":
      return null;
    case "true":
    case "True":
    case "TRUE":
      return true;
    case "false":
    case "False":
    case "FALSE":
      return false;
    default:
      return source;
  }
}

/**
 * Keys `.dstack/` files use. A key that is one of these is returned as this literal (an internalized
 * string) rather than a fresh slice of the text: the readers look every key up in tables
 * (`COMMON_FIELDS[key]`, `LEGACY_KEYS.has(key)`), and V8 hashes and internalizes a fresh string at
 * each such lookup, which cost more than scanning the key. A plain speed hint: any other key reads the same.
 */
const KNOWN_KEYS: readonly string[] = [
  ...["workflows", "variables", "providers", "global", "name", "provider", "help", "depends-on", "deps", "artifacts", "checkpoints"],
  ...["resources", "on", "gpu", "memory", "cpu", "shm_size", "interruptible", "nodes", "local", "count", "path", "mount", "workflow"],
  ...["tag", "tags", "branches", "push", "file", "script", "python_script", "args", "requirements", "version", "python", "env"],
  ...["environment", "working_dir", "setup", "before_run", "commands", "image", "url", "output", "ports", "app", "runs", "logdir"],
  ...["target", "id", "params", "dependencies", "template"],
];

/** `KNOWN_KEYS` by first character (all ASCII): an array indexed by its code, read faster than a Map. */
const KEYS_BY_FIRST: Array<string[] | undefined> = new Array<string[] | undefined>(128).fill(undefined);
for (const key of KNOWN_KEYS) (KEYS_BY_FIRST[key.charCodeAt(0)] ??= []).push(key);

/** A plain key's text from `start` to `end`: the `KNOWN_KEYS` literal when it is one. */
function keyText(text: string, start: number, end: number): string {
  const candidates = KEYS_BY_FIRST[text.charCodeAt(start)];
  if (candidates !== undefined) {
    for (const key of candidates) if (key.length === end - start && text.startsWith(key, start)) return key;
  }
  return text.slice(start, end);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** What stopped a plain scalar in block context. */
const STOP_LINE = 0;
const STOP_COMMENT = 1;
const STOP_KEY = 2;

class Scanner {
  private readonly len: number;
  /** Where the scanner stands inside the current line. */
  private pos = 0;
  /** The start of the line of the last content position `nextContent` found. */
  private lineStart = 0;
  /** The next content position after the node just read (the text's length at the end). */
  private next = 0;
  /** Comment lines `nextContent` skipped last, and the largest column among them (-1: none). */
  private gapComments = 0;
  private gapCommentColumn = -1;
  /** What stopped the last plain scalar (`STOP_*`). */
  private stop = STOP_LINE;
  private depth = 0;

  constructor(private readonly text: string) {
    this.len = text.length;
  }

  document(): Node {
    const start = this.nextContent(0);
    // An empty file, comments alone, or a root indented: left to the full parser.
    if (start >= this.len || start !== this.lineStart) outside();
    const root = this.blockNode(start, true);
    if (this.next < this.len) outside();
    return root;
  }

  /**
   * From a line start, past blank and comment-only lines: the first content character, or the
   * text's length. Records the comments skipped, which decide whether a range would change.
   */
  private nextContent(from: number): number {
    const { text, len } = this;
    let line = from;
    let comments = 0;
    let column = -1;
    while (line < len) {
      let at = line;
      while (text.charCodeAt(at) === SPACE) at++;
      if (at >= len) break;
      const c = text.charCodeAt(at);
      if (c === NEWLINE) {
        line = at + 1;
        continue;
      }
      if (c === HASH) {
        comments++;
        if (at - line > column) column = at - line;
        const eol = text.indexOf("\n", at);
        line = eol < 0 ? len : eol + 1;
        continue;
      }
      this.lineStart = line;
      this.gapComments = comments;
      this.gapCommentColumn = column;
      return at;
    }
    this.lineStart = len;
    this.gapComments = comments;
    this.gapCommentColumn = column;
    return len;
  }

  private isSpaceOrBreak(at: number): boolean {
    const c = this.text.charCodeAt(at);
    return c === SPACE || c === NEWLINE || at >= this.len;
  }

  /** A `- ` (or `-` ending its line) sequence item indicator. */
  private isDash(at: number): boolean {
    return this.text.charCodeAt(at) === DASH && this.isSpaceOrBreak(at + 1);
  }

  private skipSpaces(from: number): number {
    let at = from;
    while (this.text.charCodeAt(at) === SPACE) at++;
    return at;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) outside();
  }

  /** A block mapping or sequence starting at a content position (a scalar alone on its line is left to the full parser). */
  private blockNode(at: number, root: boolean): Node {
    this.enter();
    const node = this.isDash(at) ? this.blockSeq(at, root) : this.blockMap(at, root);
    this.depth--;
    return node;
  }

  /**
   * Comments after an item change ranges when indented past the collection (parseDocument counts
   * them in the item's `range[2]`), and at its end when indented as far as its items (they join
   * the collection's range); comments at the left margin after the root belong to the document.
   */
  private checkGapComments(column: number, ended: boolean, root: boolean): void {
    const deepest = this.gapCommentColumn;
    if (deepest < 0) return;
    if (deepest > column || (ended && deepest === column && !root)) outside();
  }

  private blockMap(start: number, root: boolean): YAMLMap<Node, Node> {
    const column = start - this.lineStart;
    const items: Array<Pair<Node, Node>> = [];
    for (let at = start; at >= 0; at = this.nextBlockItem(column, root, true)) {
      const key = this.blockKey(at);
      checkNewKey(items, key);
      items.push(makePair(key, this.value(column, false)));
    }
    return this.blockClose(makeMap(items, false), start, (items[items.length - 1] as Pair<Node, Node>).value as Node, column, root);
  }

  private blockSeq(start: number, root: boolean): YAMLSeq<Node> {
    const column = start - this.lineStart;
    const items: Node[] = [];
    for (let at = start; at >= 0; at = this.nextBlockItem(column, root, false)) {
      this.pos = at + 1;
      items.push(this.value(column, true));
    }
    return this.blockClose(makeSeq(items, false), start, items[items.length - 1] as Node, column, root);
  }

  /**
   * After an item of a block collection at `column` (`next` at the content after it): where the
   * collection's next item starts, or -1 where the collection ends (less indented, or the text's end).
   */
  private nextBlockItem(column: number, root: boolean, isMap: boolean): number {
    const next = this.next;
    if (next >= this.len) return -1;
    const nextColumn = next - this.lineStart;
    // More indented: a continuation line or an error; a `- ` at a mapping's keys' column: an error.
    if (nextColumn > column || (isMap && nextColumn === column && this.isDash(next))) outside();
    if (nextColumn < column || (!isMap && !this.isDash(next))) return -1;
    this.checkGapComments(column, false, root);
    return next;
  }

  /** Ends a block collection: its range runs to the end of its last item's (`range[2]`). */
  private blockClose<T extends YAMLMap<Node, Node> | YAMLSeq<Node>>(node: T, start: number, last: Node, column: number, root: boolean): T {
    this.checkGapComments(column, true, root);
    const end = (last.range as Range)[2];
    node.range = [start, end, end];
    return node;
  }

  /** An implicit key (plain or quoted, one line) and its `:`; leaves `pos` after the `:`. */
  private blockKey(at: number): Scalar {
    const { text } = this;
    const c = text.charCodeAt(at);
    let key: Scalar;
    let keyEnd: number;
    if (c === DQUOTE || c === SQUOTE) {
      key = this.quoted(at, -1);
      keyEnd = this.pos;
      this.pos = this.skipSpaces(keyEnd);
      if (text.charCodeAt(this.pos) !== COLON || !this.isSpaceOrBreak(this.pos + 1)) outside();
    } else {
      const stop = this.plainBlock(at);
      if (this.stop !== STOP_KEY) outside();
      keyEnd = trimBack(text, stop, at);
      const source = keyText(text, at, keyEnd);
      key = makeScalar(plainScalarValue(source), source, Scalar.PLAIN, [at, keyEnd, keyEnd]);
      this.pos = stop;
    }
    // `pos` is at the `:`.
    if (this.pos - at > MAX_KEY_LENGTH) outside();
    (key.range as Range)[2] = keyEnd;
    this.pos++;
    return key;
  }

  /**
   * The value after `key:` or `- ` (`pos` just past the indicator), in a collection at `column`.
   * Leaves `next` at the content after it.
   */
  private value(column: number, inSeq: boolean): Node {
    const { text, len } = this;
    const at = this.skipSpaces(this.pos);
    const c = text.charCodeAt(at);
    if (at >= len || c === NEWLINE || c === HASH) {
      // Nothing on this line: a collection on the next ones, or an empty value.
      const eol = c === HASH ? text.indexOf("\n", at) : at;
      const next = this.nextContent(eol < 0 || eol >= len ? len : eol + 1);
      const nextColumn = next - this.lineStart;
      if (next < len && (nextColumn > column || (nextColumn === column && !inSeq && this.isDash(next)))) return this.blockNode(next, false);
      // A comment after an empty value (on its line or the next ones) extends its `range[2]`.
      if (c === HASH || this.gapComments > 0) outside();
      this.next = next;
      return makeScalar(null, "", Scalar.PLAIN, [at, at, at]);
    }
    if (c === PIPE || c === GT) return this.blockScalar(at, column);
    let node: Scalar | YAMLMap<Node, Node> | YAMLSeq<Node>;
    if (c === LBRACKET || c === LBRACE) {
      node = this.flowCollection(at);
    } else if (c === DQUOTE || c === SQUOTE) {
      node = this.quoted(at, column);
      const after = this.skipSpaces(this.pos);
      if (text.charCodeAt(after) === COLON && this.isSpaceOrBreak(after + 1)) {
        // `- "key": value` starts a mapping inside the item; `key: "k": v` is an error.
        if (!inSeq) outside();
        return this.nestedMap(at);
      }
    } else if (inSeq && this.isDash(at)) {
      this.enter();
      const seq = this.blockSeq(at, false);
      this.depth--;
      return seq;
    } else {
      const stop = this.plainBlock(at);
      if (this.stop === STOP_KEY) {
        if (!inSeq) outside();
        return this.nestedMap(at);
      }
      const valueEnd = trimBack(text, stop, at);
      const source = text.slice(at, valueEnd);
      node = makeScalar(plainScalarValue(source), source, Scalar.PLAIN, [at, valueEnd, valueEnd]);
      this.pos = valueEnd;
    }
    const end = this.lineEnd(this.pos);
    (node.range as Range)[2] = end;
    this.next = this.nextContent(end);
    return node;
  }

  /** A compact mapping inside a sequence item (`- name: a`), its keys at the first key's column. */
  private nestedMap(at: number): YAMLMap<Node, Node> {
    this.enter();
    const map = this.blockMap(at, false);
    this.depth--;
    return map;
  }

  /** Past the spaces, the comment and the line break after a value that must end its line. */
  private lineEnd(valueEnd: number): number {
    const { text, len } = this;
    let at = this.skipSpaces(valueEnd);
    if (at >= len) return len;
    let c = text.charCodeAt(at);
    if (c === HASH) {
      // `"a"#b`, `[a]#b`: a comment needs white space before it.
      if (at === valueEnd) outside();
      const eol = text.indexOf("\n", at);
      if (eol < 0) return len;
      at = eol;
      c = NEWLINE;
    }
    if (c !== NEWLINE) outside();
    return at + 1;
  }

  /**
   * A plain scalar in block context from `at`: the offset where it stops (a line break, a comment,
   * or a `: ` that makes it a key), with `stop` saying which.
   */
  private plainBlock(at: number): number {
    const { text, len } = this;
    this.checkPlainStart(at, false);
    for (let i = at; ; i++) {
      if (i >= len) {
        this.stop = STOP_LINE;
        return i;
      }
      const c = text.charCodeAt(i);
      if (c === NEWLINE) {
        this.stop = STOP_LINE;
        return i;
      }
      if (c === COLON && this.isSpaceOrBreak(i + 1)) {
        this.stop = STOP_KEY;
        return i;
      }
      if (c === HASH && text.charCodeAt(i - 1) === SPACE) {
        this.stop = STOP_COMMENT;
        return i;
      }
    }
  }

  /** Characters that cannot start a plain scalar (indicators), and `-`, `?`, `:` before white space. */
  private checkPlainStart(at: number, flow: boolean): void {
    const c = this.text.charCodeAt(at);
    switch (c) {
      case COMMA:
      case LBRACKET:
      case RBRACKET:
      case LBRACE:
      case RBRACE:
      case HASH:
      case AMPERSAND:
      case STAR:
      case BANG:
      case PIPE:
      case GT:
      case SQUOTE:
      case DQUOTE:
      case PERCENT:
      case AT:
      case BACKTICK:
        outside();
        break;
      case DASH:
      case QUESTION:
      case COLON: {
        const next = this.text.charCodeAt(at + 1);
        if (this.isSpaceOrBreak(at + 1) || (flow && isFlowIndicator(next))) outside();
        break;
      }
      default:
        if (at >= this.len) outside();
    }
  }

  /**
   * A quoted scalar; leaves `pos` after its closing quote. `range[2]` is the caller's. A value in a
   * block collection at `column` may go on over lines indented past it (each line break folds to a
   * space, blank lines to line breaks); keys and flow items (`column` -1) stay on one line.
   */
  private quoted(at: number, column: number): Scalar {
    const { text, len } = this;
    const quote = text.charCodeAt(at);
    let value = "";
    let chunk = at + 1;
    let i = at + 1;
    for (;;) {
      if (i >= len) outside();
      const c = text.charCodeAt(i);
      if (c === NEWLINE) {
        if (column < 0) outside();
        value += text.slice(chunk, trimBack(text, i, chunk)) + this.foldQuotedBreak(i, column);
        i = this.pos;
        chunk = i;
        continue;
      }
      if (c === quote) {
        if (quote === SQUOTE && text.charCodeAt(i + 1) === SQUOTE) {
          value += text.slice(chunk, i + 1);
          i += 2;
          chunk = i;
          continue;
        }
        value += text.slice(chunk, i);
        i++;
        break;
      }
      if (c === BACKSLASH && quote === DQUOTE) {
        value += text.slice(chunk, i);
        i = this.escape(i + 1);
        value += this.escaped;
        chunk = i;
        continue;
      }
      i++;
    }
    this.pos = i;
    return makeScalar(value, value, quote === DQUOTE ? Scalar.QUOTE_DOUBLE : Scalar.QUOTE_SINGLE, [at, i, i]);
  }

  /** The line break at `at` inside a quoted scalar and the blank lines after it, folded; `pos` after their indentation. */
  private foldQuotedBreak(at: number, column: number): string {
    const { text, len } = this;
    let blank = 0;
    let line = at + 1;
    for (;;) {
      const first = this.skipSpaces(line);
      if (first >= len) outside();
      if (text.charCodeAt(first) !== NEWLINE) {
        // A continuation line must be indented past the collection (parseDocument reports it otherwise).
        if (first - line <= column) outside();
        this.pos = first;
        return blank === 0 ? " " : "\n".repeat(blank);
      }
      blank++;
      line = first + 1;
    }
  }

  /** The text of the last escape read. */
  private escaped = "";

  /** A double-quoted escape after its backslash: sets `escaped`, returns the offset after it. */
  private escape(at: number): number {
    const c = this.text.charCodeAt(at);
    const simple = SIMPLE_ESCAPES[String.fromCharCode(c)];
    if (simple !== undefined) {
      this.escaped = simple;
      return at + 1;
    }
    const digits = c === 0x78 ? 2 : c === 0x75 ? 4 : c === 0x55 ? 8 : 0;
    if (digits === 0) outside();
    const hex = this.text.slice(at + 1, at + 1 + digits);
    if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex)) outside();
    const code = parseInt(hex, 16);
    if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) outside();
    this.escaped = String.fromCodePoint(code);
    return at + 1 + digits;
  }

  /** `|` or `>` with clip or `-` chomping, its lines indented past the collection; sets `next`. */
  private blockScalar(start: number, column: number): Scalar {
    const { text, len } = this;
    const literal = text.charCodeAt(start) === PIPE;
    let at = start + 1;
    const strip = text.charCodeAt(at) === DASH;
    if (strip) at++;
    const header = text.charCodeAt(at);
    // `+` keeps trailing lines (they count in the range); an explicit indentation: left to the full parser.
    if (header === PLUS || (header >= 0x30 && header <= 0x39)) outside();
    let eol = this.skipSpaces(at);
    if (text.charCodeAt(eol) === HASH) {
      if (eol === at) outside();
      eol = text.indexOf("\n", eol);
    }
    if (eol < 0 || eol >= len || text.charCodeAt(eol) !== NEWLINE) outside();
    // The first line sets the indentation; a leading blank line is left to the full parser.
    let line = eol + 1;
    const indent = this.skipSpaces(line) - line;
    if (indent <= column || line + indent >= len || text.charCodeAt(line + indent) === NEWLINE) outside();
    let value = "";
    let blank = 0;
    let end = line;
    for (;;) {
      const first = this.skipSpaces(line);
      if (first >= len) break;
      const spaces = first - line;
      if (text.charCodeAt(first) === NEWLINE) {
        // Spaces past the indentation on a blank line are content: left to the full parser.
        if (spaces > indent) outside();
        blank++;
        line = first + 1;
        continue;
      }
      if (spaces < indent) break;
      // Folded lines indented further keep their breaks: left to the full parser.
      if (!literal && spaces > indent) outside();
      const lineEnd = text.indexOf("\n", first);
      if (lineEnd < 0) outside();
      const content = text.slice(line + indent, lineEnd);
      if (end === eol + 1) value = content;
      else value += (literal ? "\n".repeat(blank + 1) : blank === 0 ? " " : "\n".repeat(blank)) + content;
      blank = 0;
      end = lineEnd + 1;
      line = end;
    }
    if (!strip) value += "\n";
    this.next = this.nextContent(end);
    return makeScalar(value, value, literal ? Scalar.BLOCK_LITERAL : Scalar.BLOCK_FOLDED, [start, end, end]);
  }

  /** `[...]` or `{...}` on one line; leaves `pos` after its closing bracket. `range[2]` is the caller's. */
  private flowCollection(at: number): YAMLMap<Node, Node> | YAMLSeq<Node> {
    this.enter();
    const node = this.text.charCodeAt(at) === LBRACKET ? this.flowSeq(at) : this.flowMap(at);
    this.depth--;
    return node;
  }

  /** Past spaces inside a flow collection, which must close on its line (no comment either). */
  private flowSpaces(from: number): number {
    const at = this.skipSpaces(from);
    const c = this.text.charCodeAt(at);
    if (at >= this.len || c === NEWLINE || c === HASH) outside();
    return at;
  }

  private flowSeq(start: number): YAMLSeq<Node> {
    const { text } = this;
    const items: Node[] = [];
    let at = this.flowSpaces(start + 1);
    if (text.charCodeAt(at) !== RBRACKET) {
      // A `:` after an item (`[a: b]`, a one-pair mapping) stops it too.
      for (; at >= 0; at = this.flowSeparator(RBRACKET)) items.push(this.flowItem(at));
      at = this.pos;
    }
    return this.flowClose(makeSeq(items, true), start, at);
  }

  /** After an item of a flow collection: -1 at the closing bracket, else where the next item starts. */
  private flowSeparator(close: number): number {
    const { text } = this;
    const c = text.charCodeAt(this.pos);
    if (c === close) return -1;
    if (c !== COMMA) outside();
    const at = this.flowSpaces(this.pos + 1);
    // A trailing comma (`[a, ]`): left to the full parser.
    if (text.charCodeAt(at) === close) outside();
    return at;
  }

  /** Ends a flow collection at its closing bracket (`at`). */
  private flowClose<T extends YAMLMap<Node, Node> | YAMLSeq<Node>>(node: T, start: number, at: number): T {
    this.pos = at + 1;
    node.range = [start, at + 1, at + 1];
    return node;
  }

  private flowMap(start: number): YAMLMap<Node, Node> {
    const { text } = this;
    const items: Array<Pair<Node, Node>> = [];
    let at = this.flowSpaces(start + 1);
    if (text.charCodeAt(at) !== RBRACE) {
      for (; at >= 0; at = this.flowSeparator(RBRACE)) {
        const c = text.charCodeAt(at);
        if (c === LBRACKET || c === LBRACE) outside();
        const key = this.flowItem(at, true) as Scalar;
        const range = key.range as Range;
        range[2] = range[1];
        checkNewKey(items, key);
        // `{a: b}` only: `{a:b}`, `{a}` and `{a: }` are left to the full parser.
        if (text.charCodeAt(this.pos) !== COLON || text.charCodeAt(this.pos + 1) !== SPACE) outside();
        const valueAt = this.flowSpaces(this.pos + 1);
        const after = text.charCodeAt(valueAt);
        if (after === COMMA || after === RBRACE) outside();
        items.push(makePair(key, this.flowItem(valueAt)));
      }
      at = this.pos;
    }
    return this.flowClose(makeMap(items, true), start, at);
  }

  /** A node (or a mapping's key) inside a flow collection; its `range[2]` and `pos` are past the spaces after it. */
  private flowItem(at: number, isKey = false): Node {
    const { text } = this;
    const c = text.charCodeAt(at);
    let node: Scalar | YAMLMap<Node, Node> | YAMLSeq<Node>;
    if (c === LBRACKET || c === LBRACE) node = this.flowCollection(at);
    else if (c === DQUOTE || c === SQUOTE) node = this.quoted(at, -1);
    else {
      const valueEnd = trimBack(text, this.plainFlow(at), at);
      const source = isKey ? keyText(text, at, valueEnd) : text.slice(at, valueEnd);
      node = makeScalar(plainScalarValue(source), source, Scalar.PLAIN, [at, valueEnd, valueEnd]);
      this.pos = valueEnd;
    }
    this.pos = this.flowSpaces(this.pos);
    (node.range as Range)[2] = this.pos;
    return node;
  }

  /** A plain scalar in flow context: where it stops (a flow indicator, or a `:` before white space or one). */
  private plainFlow(at: number): number {
    const { text, len } = this;
    this.checkPlainStart(at, true);
    for (let i = at; ; i++) {
      if (i >= len) outside();
      const c = text.charCodeAt(i);
      if (c === NEWLINE) outside();
      if (c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE) return i;
      if (c === COLON) {
        const next = text.charCodeAt(i + 1);
        if (next === SPACE || isFlowIndicator(next) || next === NEWLINE || i + 1 >= len) return i;
      }
      if (c === HASH && text.charCodeAt(i - 1) === SPACE) outside();
    }
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  t: "\t",
  n: "\n",
  v: "\v",
  f: "\f",
  r: "\r",
  e: "\x1b",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  N: "\x85",
  _: "\xa0",
  L: "\u2028",
  P: "\u2029",
};

function isFlowIndicator(c: number): boolean {
  return c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;
}

/** Back from `end` over spaces, not before `start`. */
function trimBack(text: string, end: number, start: number): number {
  let at = end;
  while (at > start && text.charCodeAt(at - 1) === SPACE) at--;
  return at;
}

/**
 * A key must differ from the mapping's earlier ones: two keys the core schema reads as equal (`1`
 * and `1.0` too) are a problem the full parser's path reports, with both positions.
 */
function checkNewKey(items: ReadonlyArray<Pair<Node, Node>>, key: Scalar): void {
  if (key.value === null) return;
  const name = keyName(key.value);
  for (const pair of items) {
    const earlier = (pair.key as Scalar).value;
    if (earlier !== null && keyName(earlier) === name) outside();
  }
}

function keyName(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}
