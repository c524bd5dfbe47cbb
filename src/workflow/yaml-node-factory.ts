import { Pair, Scalar, YAMLMap, YAMLSeq } from "yaml";
import type { Node } from "yaml";

/**
 * `yaml`'s node classes (`Scalar`, `YAMLMap`, `YAMLSeq`, `Pair`), made without running their
 * constructors. Each constructor marks its node with `Object.defineProperty` (the hidden symbol that
 * `isScalar` and the other guards read); on a 200-workflow file's ~10,000 nodes that costs more than
 * js-yaml's whole parse. Here each class's hidden properties are defined once, on a prototype shared
 * by its nodes, where the guards find them; the nodes are otherwise the same (`instanceof`, methods).
 * The fast-path tests compare every result with `parseDocument`'s, so a change in `yaml` shows there.
 */
function sharedPrototype<T extends object>(sample: T): T {
  const hidden: PropertyDescriptorMap = {};
  for (const key of Reflect.ownKeys(sample)) {
    const descriptor = Reflect.getOwnPropertyDescriptor(sample, key);
    if (descriptor !== undefined && descriptor.enumerable !== true) hidden[key] = descriptor;
  }
  return Object.create(Object.getPrototypeOf(sample) as object, hidden) as T;
}

const SCALAR = sharedPrototype(new Scalar(null));
const MAP = sharedPrototype(new YAMLMap());
const SEQ = sharedPrototype(new YAMLSeq());
const PAIR = sharedPrototype(new Pair(null));

export function makeScalar(value: unknown, source: string, type: Scalar.Type, range: [number, number, number]): Scalar {
  const node = Object.create(SCALAR) as Scalar;
  node.value = value;
  node.source = source;
  node.type = type;
  node.range = range;
  return node;
}

/**
 * `flow` is set on every collection (false on block ones, where parseDocument leaves it unset): one
 * object shape per class keeps the readers' property accesses monomorphic.
 */
export function makeMap(items: Array<Pair<Node, Node>>, flow: boolean): YAMLMap<Node, Node> {
  const node = Object.create(MAP) as YAMLMap<Node, Node>;
  node.items = items;
  node.flow = flow;
  return node;
}

export function makeSeq(items: Node[], flow: boolean): YAMLSeq<Node> {
  const node = Object.create(SEQ) as YAMLSeq<Node>;
  node.items = items;
  node.flow = flow;
  return node;
}

export function makePair(key: Node, value: Node): Pair<Node, Node> {
  const pair = Object.create(PAIR) as Pair<Node, Node>;
  pair.key = key;
  pair.value = value;
  return pair;
}
