import { Composer, isAlias, isMap, isPair, isScalar, isSeq, Parser, YAMLParseError } from "yaml";
import type { Alias, CST, Document, DocumentOptions, Node, ParseOptions, SchemaOptions } from "yaml";
import type { FileReporter } from "./file-reporter.js";

/**
 * How deep values may nest. A `.dstack/` file needs about six levels (workflows, a workflow,
 * `resources`, `gpu`, its fields); 10,000 nested `[` would otherwise reach the parser's stack limit.
 */
export const MAX_NESTING = 100;

/**
 * How many values aliases may add to a file, counted as if each alias were written out. A
 * "billion laughs" file (`&a [x,x,...]`, `&b [*a,*a,...]`, ...) is a few hundred bytes that stand
 * for 10^9 values; a file that uses `<<: *defaults` in every workflow adds a few thousand.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

/** The one message for values nested past the limit, whichever parser found them. */
const TOO_DEEP = `values are nested more than ${MAX_NESTING} levels deep; a .dstack/ file needs a few levels: flatten it`;

/**
 * Where each alias of a parsed document points: the latest node before it (in document order, its
 * ancestors included) with that anchor. One iterative walk; `Alias.resolve(doc)` walks the whole
 * document for each alias, which made a 90 KB file of aliases take minutes, and recurses.
 */
export function aliasTargets(root: unknown): Map<Alias, Node> {
  const targets = new Map<Alias, Node>();
  const anchors = new Map<string, Node>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target !== undefined) targets.set(node, target);
      continue;
    }
    if (isPair(node)) {
      stack.push(node.value, node.key);
      continue;
    }
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) continue;
    if (node.anchor !== undefined) anchors.set(node.anchor, node);
    if (isMap(node) || isSeq(node)) for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
  return targets;
}

/**
 * `parseDocument`, refusing first what nests past `MAX_NESTING`: yaml's parser builds its syntax
 * tree without recursion, but its composer recurses per level, and near the end of the stack V8
 * aborts the whole process when a regular expression compiles (a 10,000-deep `[[[` file killed the
 * worker). Returns undefined after reporting such a file.
 */
export function parseDocumentWithin(text: string, options: DocumentOptions & ParseOptions & SchemaOptions, report: FileReporter): Document.Parsed | undefined {
  const tokens = [...new Parser().parse(text)];
  const deep = deepestToken(tokens);
  if (deep !== undefined) {
    report.error(deep.offset, "too-deep", TOO_DEEP);
    return undefined;
  }
  let doc: Document.Parsed | undefined;
  // As parseDocument: the first document, and an error where a second one starts.
  for (const next of new Composer(options).compose(tokens, true, text.length)) {
    if (doc === undefined) doc = next;
    else {
      doc.errors.push(new YAMLParseError([next.range[0], next.range[1]], "MULTIPLE_DOCS", "Source contains multiple documents; please use YAML.parseAllDocuments()"));
      break;
    }
  }
  return doc;
}

/** The syntax-tree shape the depth walk reads (documents, collections and their items). */
interface TokenShape {
  offset: number;
  value?: TokenShape;
  items?: Array<{ key?: TokenShape | null; value?: TokenShape }>;
}

/** The first token nested deeper than `MAX_NESTING` (a document's value is level 1, as the root node). */
function deepestToken(tokens: readonly CST.Token[]): TokenShape | undefined {
  const stack: Array<{ token: TokenShape; depth: number }> = tokens.map((token) => ({ token: token as TokenShape, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop() as { token: TokenShape; depth: number };
    if (depth > MAX_NESTING) return token;
    if (token.value !== undefined && typeof token.value === "object") stack.push({ token: token.value, depth: depth + 1 });
    for (const item of token.items ?? []) {
      if (item.key !== undefined && item.key !== null) stack.push({ token: item.key, depth: depth + 1 });
      if (item.value !== undefined) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

interface Frame {
  node: Node;
  children: unknown[];
  next: number;
  size: number;
  /** Literal depth (aliases do not add to it; the walk follows them with the depth of the alias). */
  depth: number;
  /** The alias the walk followed to this node, when its target had not been read yet. */
  via: Alias | undefined;
}

/**
 * Checks a parsed tree against `MAX_NESTING` and `MAX_ALIAS_EXPANSION` without recursion, in time
 * linear in the file (each node's expanded size is computed once). Reports the first excess at its
 * node and returns false: the readers must not walk such a tree.
 */
export function withinYamlLimits(root: Node, target: (alias: Alias) => unknown, report: FileReporter): boolean {
  const sizes = new Map<Node, number>();
  const open = new Set<Node>();
  let added = 0;
  const frameOf = (node: Node, depth: number, via: Alias | undefined): Frame => {
    open.add(node);
    const children: unknown[] = isMap(node) ? node.items.flatMap((p) => [p.key, p.value]) : isSeq(node) ? node.items : [];
    return { node, children, next: 0, size: 1, depth, via };
  };
  const expandsTooMuch = (alias: Alias, size: number): boolean => {
    added += size;
    if (added <= MAX_ALIAS_EXPANSION) return false;
    report.error(
      alias,
      "alias-expansion",
      `the aliases up to here stand for more than ${MAX_ALIAS_EXPANSION.toLocaleString("en-US")} values (aliases of aliases, as in a "billion laughs" file); write the values out or use fewer nested aliases`,
    );
    return true;
  };
  const stack: Frame[] = [frameOf(root, 1, undefined)];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    if (frame.next >= frame.children.length) {
      stack.pop();
      open.delete(frame.node);
      sizes.set(frame.node, frame.size);
      if (frame.via !== undefined && expandsTooMuch(frame.via, frame.size)) return false;
      const parent = stack[stack.length - 1];
      if (parent !== undefined) parent.size += frame.size;
      continue;
    }
    const child = frame.children[frame.next++];
    const node = isAlias(child) ? target(child) : child;
    if (!isScalar(node) && !isMap(node) && !isSeq(node)) continue;
    const known = sizes.get(node);
    // An alias to one of its own ancestors (`&a [*a]`) stands for itself once: nothing reads it deeper.
    const size = known ?? (open.has(node) ? 1 : undefined);
    if (size === undefined) {
      if (frame.depth >= MAX_NESTING) {
        report.error(node, "too-deep", TOO_DEEP);
        return false;
      }
      stack.push(frameOf(node, frame.depth + 1, isAlias(child) ? child : undefined));
      continue;
    }
    frame.size += size;
    if (isAlias(child) && expandsTooMuch(child, size)) return false;
  }
  return true;
}
