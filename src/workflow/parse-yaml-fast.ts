import jsYaml from "js-yaml";
import type { State } from "js-yaml";
import { Alias, isScalar, Scalar, Schema } from "yaml";
import type { Node, Pair, ScalarTag, YAMLMap, YAMLSeq } from "yaml";
import { makeMap, makePair, makeScalar, makeSeq } from "./yaml-node-factory.js";
import { MAX_NESTING } from "./yaml-limits.js";

/** A YAML file read by the fast front end: the same node tree `parseDocument` builds, and where each alias points. */
export interface FastYaml {
  root: Node;
  aliases: ReadonlyMap<Alias, Node>;
}

/**
 * Reads a well-formed, plain YAML file with js-yaml (an order of magnitude faster than the `yaml`
 * package's `parseDocument`) and builds the nodes `parseDocument` would: `Scalar` (value resolved by
 * the YAML 1.2 core schema, `source`, `type`), `YAMLMap`, `YAMLSeq`, `Pair`, `Alias`, with the same
 * `range` offsets and anchors, `<<` kept as a plain key. Returns undefined whenever the file is not
 * such a file: js-yaml reports an error (syntax, duplicate keys), or it uses something this front end
 * does not rebuild exactly (tags, directives, several documents, explicit or complex keys, tabs,
 * keys the core schema reads as equal, ...). The caller then parses it with `parseDocument`, which
 * reports every problem at its position; so on this path there is none to report.
 */
export function parseYamlFast(text: string): FastYaml | undefined {
  if (UNSUPPORTED.test(text)) return undefined;
  const builder = new TreeBuilder(text);
  try {
    // FAILSAFE: no implicit types, so every plain scalar arrives as the string it reads as.
    jsYaml.safeLoad(text, { schema: jsYaml.FAILSAFE_SCHEMA, listener: builder.listener });
  } catch {
    // A js-yaml error, or a construct rebuilt differently (`Unsupported`): parseDocument reads it.
    return undefined;
  }
  // A file of comments alone has no contents to parseDocument (null), not an empty scalar; and a
  // file that is one scalar is no `.dstack/` file: leave both to parseDocument.
  const root = builder.root;
  if (root === undefined || isScalar(root)) return undefined;
  return { root, aliases: builder.aliases };
}

/**
 * Text this front end leaves to `parseDocument`: tabs, CR, BOM and control characters (where the two
 * parsers' whitespace and error rules differ), directives and document markers, `?` explicit keys,
 * `|+`/`>+` block scalars (their trailing lines count in `range`), and an anchor or alias ending in `:`.
 */
// eslint-disable-next-line no-control-regex -- control characters are among what it looks for
const UNSUPPORTED = /[\t\r\ufeff\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]|^(?:---|\.\.\.|%)|(?:^|[\s[{,])\?(?:\s|$)|[|>][1-9]?\+|[&*][^\s,[\]{}]*:(?:\s|$)/mu;

/** Thrown from the listener to stop js-yaml when the file needs `parseDocument`. */
class Unsupported extends Error {}

/** The fields of js-yaml's state the listener reads (its typings omit `tag` and `anchor`). */
interface ListenerState extends State {
  tag: string | null;
  anchor: string | null;
}

interface Frame {
  /** Where js-yaml opened the node (before separation space and properties). */
  open: number;
  /** The nodes read inside it so far. */
  children: Child[];
}

/** A node read, with what its parent needs to place it. */
interface Child {
  node: Node;
  /** Offset just past the node and its line's trailing comment and line break (`range[2]` in block context). */
  end: number;
  /** An empty value (`key:`, `-`): it ends where it starts, mid-line. */
  empty: boolean;
  /** Where js-yaml opened it, and where it stood when it closed it (set by `close`). */
  open: number;
  close: number;
}

/** Every child is made here, so all have one shape (V8 keeps property access fast). */
function childOf(node: Node, end: number, empty: boolean): Child {
  return { node, end, empty, open: 0, close: 0 };
}

/** The core schema's implicit scalar types, in the order `parseDocument` tries them. */
const CORE_TAGS: readonly ScalarTag[] = new Schema({}).tags.filter(
  (tag): tag is ScalarTag => tag.default === true && !("collection" in tag && tag.collection !== undefined) && tag.test !== undefined,
);

/** The value `parseDocument` gives a plain scalar: null, boolean, number or the string itself. */
function plainValue(source: string): unknown {
  // Only `~`, words of 4 or 5 letters (null, true, false and their spellings) and numbers can be
  // anything but a string: skip the nine tests for the rest.
  const c = source.charCodeAt(0);
  const numeric = (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e;
  if (!numeric && c !== 0x7e && source.length !== 4 && source.length !== 5) return source;
  for (const tag of CORE_TAGS) {
    if (tag.test?.test(source)) {
      const value = tag.resolve(source, () => {
        throw new Unsupported();
      }, {});
      return isScalar(value) ? value.value : value;
    }
  }
  return source;
}

const SPACE = 32;
const NEWLINE = 10;
const HASH = 35;

class TreeBuilder {
  root: Node | undefined;
  readonly aliases = new Map<Alias, Node>();
  private readonly anchors = new Map<string, Node>();
  /**
   * The open nodes, by depth. Frames (and their `children` arrays) are reused from one node to the
   * next at the same depth: nothing keeps them once their node is built, and a big file has
   * thousands of nodes.
   */
  private readonly frames: Frame[] = [];
  /** How many nodes are open. */
  private depth = 0;

  constructor(private readonly text: string) {}

  readonly listener = (event: "open" | "close", state: State): void => {
    if (event === "open") {
      let frame = this.frames[this.depth];
      if (frame === undefined) {
        frame = { open: 0, children: [] };
        this.frames.push(frame);
      }
      frame.open = state.position;
      // js-yaml recurses per level: stop it long before the stack ends (V8 aborts the whole process
      // when a regular expression compiles with the stack nearly full); parseDocument reports the depth.
      if (++this.depth > MAX_NESTING) throw new Unsupported();
      return;
    }
    this.depth--;
    const frame = this.frames[this.depth] as Frame;
    const child = this.close(frame, state as ListenerState);
    frame.children.length = 0;
    if (this.depth === 0) this.root = child.node;
    else (this.frames[this.depth - 1] as Frame).children.push(child);
  };

  private close(frame: Frame, state: ListenerState): Child {
    const { text } = this;
    // js-yaml reads the text with a line break appended when it lacks one.
    const close = Math.min(state.position, text.length);
    if (state.tag !== null && state.tag !== "?") throw new Unsupported();
    const only = frame.children[0];
    // js-yaml first tries a block mapping's key, and keeps that node when no `:` follows: one node, not two.
    if (frame.children.length === 1 && only !== undefined && only.open === frame.open) {
      only.close = close;
      return this.anchor(only, state);
    }

    const start = this.start(frame.open);
    const first = text.charCodeAt(start);
    let built: Child;
    if (state.kind === "mapping") built = first === 0x7b ? this.flowMap(frame, start, close, state) : this.blockMap(frame, start, state);
    else if (state.kind === "sequence") built = first === 0x5b ? this.flowSeq(frame, start, close, state) : this.blockSeq(frame, start, state);
    else if (frame.children.length > 0) throw new Unsupported();
    else if (state.kind === "scalar") built = this.scalar(start, close, state);
    else if (first === 0x2a) built = this.alias(start, close, state);
    else if (state.anchor !== null || state.result !== null) throw new Unsupported();
    else built = this.empty(this.skipSpaces(frame.open));
    built.open = frame.open;
    built.close = close;
    return this.anchor(built, state);
  }

  private anchor(child: Child, state: ListenerState): Child {
    if (state.anchor !== null) {
      if (child.node.anchor !== undefined && child.node.anchor !== state.anchor) throw new Unsupported();
      child.node.anchor = state.anchor;
      this.anchors.set(state.anchor, child.node);
    }
    return child;
  }

  /** Where a node's value starts: past separation space, comments and its anchor (`range[0]`). */
  private start(open: number): number {
    const { text } = this;
    let at = this.skipSeparation(open);
    while (text.charCodeAt(at) === 0x26) {
      while (at < text.length && !/[\s,[\]{}]/.test(text[at] as string)) at++;
      at = this.skipSeparation(at);
    }
    if (text.charCodeAt(at) === 0x21) throw new Unsupported();
    return at;
  }

  private skipSeparation(from: number): number {
    const { text } = this;
    let at = from;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === SPACE || c === NEWLINE) at++;
      else if (c === HASH) {
        const eol = text.indexOf("\n", at);
        at = eol < 0 ? text.length : eol;
      } else return at;
    }
  }

  /**
   * parseDocument counts a comment line after a block collection's last item in the collection's
   * range (and so in the enclosing ones') when it is indented at least as far: leave those to it.
   * Comments at the end of the file, after the root collection, belong to the document instead.
   */
  private noTrailingComment(end: number, column: number): void {
    const { text } = this;
    const root = this.depth === 0;
    let at = end;
    for (;;) {
      const next = this.skipSpaces(at);
      const c = text.charCodeAt(next);
      if (c === NEWLINE) at = next + 1;
      else if (c === HASH && this.column(next) >= column && !(root && this.column(next) === 0)) throw new Unsupported();
      else return;
    }
  }

  private column(offset: number): number {
    return offset - (this.text.lastIndexOf("\n", offset - 1) + 1);
  }

  private spansLines(start: number, end: number): boolean {
    const eol = this.text.indexOf("\n", start);
    return eol >= 0 && eol < end;
  }

  /**
   * A value in a block collection must end its line (js-yaml takes `a: 'x'y: z` and `a: [1] b:`,
   * parseDocument reports them).
   */
  private endsLine(child: Child, column: number): void {
    if (child.empty) return;
    if (child.end < this.text.length && this.text.charCodeAt(child.end - 1) !== NEWLINE) throw new Unsupported();
    if (isScalar(child.node) && (child.node.type === Scalar.QUOTE_DOUBLE || child.node.type === Scalar.QUOTE_SINGLE)) this.continuationIndented(child.node, column);
  }

  /** The lines of a multi-line quoted value must be indented past its collection (js-yaml does not check). */
  private continuationIndented(node: Scalar, column: number): void {
    const { text } = this;
    const [start, end] = node.range ?? [0, 0];
    for (let eol = text.indexOf("\n", start); eol >= 0 && eol < end; eol = text.indexOf("\n", eol + 1)) {
      const next = this.skipSpaces(eol + 1);
      if (text.charCodeAt(next) !== NEWLINE && next - (eol + 1) <= column) throw new Unsupported();
    }
  }

  private skipSpaces(from: number): number {
    let at = from;
    while (this.text.charCodeAt(at) === SPACE) at++;
    return at;
  }

  /** Back from `close` over white space and line breaks: the end of the value before it. */
  private trimBack(close: number, start: number): number {
    let at = close;
    while (at > start) {
      const c = this.text.charCodeAt(at - 1);
      if (c !== SPACE && c !== NEWLINE) break;
      at--;
    }
    return at;
  }

  /** Past the spaces, the comment and the line break after a value that ends its line. */
  private lineEnd(valueEnd: number): number {
    const { text } = this;
    let at = this.skipSpaces(valueEnd);
    // `"a"#b` and `[a]#b`: parseDocument wants white space before a comment, js-yaml does not.
    if (at === valueEnd && text.charCodeAt(at) === HASH) throw new Unsupported();
    if (text.charCodeAt(at) === HASH) {
      const eol = text.indexOf("\n", at);
      at = eol < 0 ? text.length : eol;
    }
    return text.charCodeAt(at) === NEWLINE ? at + 1 : at;
  }

  private empty(at: number): Child {
    // A comment after an empty value (on its line or the next ones) extends its `range[2]`: leave
    // that to parseDocument; so is `{a: }`, an empty value in a flow collection.
    const after = this.text.charCodeAt(at);
    if (after !== NEWLINE && at < this.text.length) throw new Unsupported();
    for (let line = at; line < this.text.length && this.text.charCodeAt(line) === NEWLINE; ) {
      const next = this.skipSpaces(line + 1);
      if (this.text.charCodeAt(next) === HASH) throw new Unsupported();
      line = next;
    }
    return childOf(makeScalar(null, "", Scalar.PLAIN, [at, at, at]), at, true);
  }

  private scalar(start: number, close: number, state: ListenerState): Child {
    const { text } = this;
    const value: unknown = state.result;
    if (typeof value !== "string") throw new Unsupported();
    const first = text.charCodeAt(start);
    if (first === 0x22 || first === 0x27) {
      const valueEnd = this.trimBack(close, start);
      if (text.charCodeAt(valueEnd - 1) !== first || valueEnd - start < 2) throw new Unsupported();
      // js-yaml keeps a space before a line break of a multi-line quoted scalar (parseDocument folds it away).
      if (this.spansLines(start, valueEnd) && text.slice(start, valueEnd).includes(" \n")) throw new Unsupported();
      const end = this.lineEnd(valueEnd);
      return childOf(makeScalar(value, value, first === 0x22 ? Scalar.QUOTE_DOUBLE : Scalar.QUOTE_SINGLE, [start, valueEnd, end]), end, false);
    }
    if (first === 0x7c || first === 0x3e) {
      // An empty block scalar's range takes the blank lines after it.
      if (value === "") throw new Unsupported();
      const last = this.trimBack(close, start);
      const valueEnd = text.charCodeAt(last) === NEWLINE ? last + 1 : last;
      return childOf(makeScalar(value, value, first === 0x7c ? Scalar.BLOCK_LITERAL : Scalar.BLOCK_FOLDED, [start, valueEnd, valueEnd]), valueEnd, false);
    }
    const valueEnd = this.trimBack(close, start);
    // Multi-line plain scalars too (and `source` is their folded text).
    if (valueEnd <= start || this.spansLines(start, valueEnd)) throw new Unsupported();
    const end = this.lineEnd(valueEnd);
    return childOf(makeScalar(plainValue(value), value, Scalar.PLAIN, [start, valueEnd, end]), end, false);
  }

  private alias(start: number, close: number, state: ListenerState): Child {
    if (state.anchor !== null) throw new Unsupported();
    const valueEnd = this.trimBack(close, start);
    const name = this.text.slice(start + 1, valueEnd);
    const target = this.anchors.get(name);
    if (target === undefined || /[\s,[\]{}]/.test(name)) throw new Unsupported();
    const node = new Alias(name);
    const end = this.lineEnd(valueEnd);
    node.range = [start, valueEnd, end];
    this.aliases.set(node, target);
    return childOf(node, end, false);
  }

  private pairs(frame: Frame, state: ListenerState, flow: boolean): YAMLMap<Node, Node> {
    const result: unknown = state.result;
    const children = frame.children;
    // A block mapping reports each key and value; a flow one's `{a}` has no value node (its count shows it).
    if (typeof result !== "object" || result === null || children.length % 2 !== 0 || (flow && children.length !== 2 * Object.keys(result).length)) {
      throw new Unsupported();
    }
    const items: Array<Pair<Node, Node>> = [];
    const seen = new Set<string>();
    for (let i = 0; i < children.length; i += 2) {
      const key = (children[i] as Child).node;
      const range = key.range;
      if (range && this.spansLines(range[0], range[1])) throw new Unsupported();
      // Keys the core schema reads as equal (`1` and `1.0`) are duplicates to parseDocument, not to js-yaml.
      if (!isScalar(key)) throw new Unsupported();
      if (key.value !== null) {
        const name = String(key.value);
        if (seen.has(name)) throw new Unsupported();
        seen.add(name);
      }
      // A key ends where its text does (`name :` included), whatever follows it on the line.
      if (range) range[2] = range[1];
      items.push(makePair(key, (children[i + 1] as Child).node));
    }
    return makeMap(items, flow);
  }

  private blockMap(frame: Frame, start: number, state: ListenerState): Child {
    const map = this.pairs(frame, state, false);
    const column = this.column(start);
    for (let i = 0; i < frame.children.length; i += 2) {
      const key = (frame.children[i] as Child).node;
      const [keyStart, keyEnd] = key.range ?? [-1, -1];
      if (this.column(keyStart) !== column) throw new Unsupported();
      // parseDocument refuses a `:` more than 1024 characters from its key's start; js-yaml does not.
      if (this.skipSpaces(keyEnd) - keyStart > 1024) throw new Unsupported();
      this.endsLine(frame.children[i + 1] as Child, column);
    }
    const last = frame.children[frame.children.length - 1];
    if (last === undefined) throw new Unsupported();
    this.noTrailingComment(last.end, column);
    map.range = [start, last.end, last.end];
    return childOf(map, last.end, false);
  }

  private flowMap(frame: Frame, start: number, close: number, state: ListenerState): Child {
    const map = this.pairs(frame, state, true);
    return this.flowEnd(map, start, close, 0x7d);
  }

  private flowSeq(frame: Frame, start: number, close: number, state: ListenerState): Child {
    const result: unknown = state.result;
    // `[a: b]` holds a one-pair mapping that js-yaml reports as two nodes.
    if (!Array.isArray(result) || result.length !== frame.children.length) throw new Unsupported();
    const items: Node[] = [];
    for (const child of frame.children) items.push(child.node);
    return this.flowEnd(makeSeq(items, true), start, close, 0x5d);
  }

  private flowEnd(node: YAMLMap<Node, Node> | YAMLSeq<Node>, start: number, close: number, bracket: number): Child {
    const valueEnd = this.trimBack(close, start);
    // Multi-line flow collections have indentation rules js-yaml does not check.
    if (this.text.charCodeAt(valueEnd - 1) !== bracket || this.spansLines(start, valueEnd)) throw new Unsupported();
    const end = this.lineEnd(valueEnd);
    node.range = [start, valueEnd, end];
    return childOf(node, end, false);
  }

  /** A block sequence; js-yaml reports no node for an item that is `-` alone, so those are found in the text. */
  private blockSeq(frame: Frame, start: number, state: ListenerState): Child {
    const { text } = this;
    const result: unknown = state.result;
    if (!Array.isArray(result)) throw new Unsupported();
    const items: Node[] = [];
    const column = this.column(start);
    let at = start;
    let next = 0;
    let end = start;
    for (let i = 0; i < result.length; i++) {
      at = this.skipSeparation(at);
      // js-yaml goes on reading a less indented `- ` after an empty item as an item of this sequence.
      if (text.charCodeAt(at) !== 0x2d || this.column(at) !== column) throw new Unsupported();
      const afterDash = at + 1;
      const content = this.skipSeparation(afterDash);
      const child = frame.children[next];
      if (child !== undefined && child.open >= afterDash && child.open <= content) {
        this.endsLine(child, column);
        items.push(child.node);
        end = child.end;
        at = child.close;
        next++;
      } else {
        const empty = this.empty(this.skipSpaces(afterDash));
        items.push(empty.node);
        end = empty.end;
        at = content;
      }
    }
    if (next !== frame.children.length || result.length === 0) throw new Unsupported();
    this.noTrailingComment(end, column);
    const seq = makeSeq(items, false);
    seq.range = [start, end, end];
    return childOf(seq, end, false);
  }
}
