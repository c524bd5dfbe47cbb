/**
 * Every dependency cycle of a graph, one per strongly connected component, each as a path that
 * returns to its start (`["a", "b", "a"]`), starting at the component's earliest node in `nodes`
 * order. Deterministic for a given node order and edge order.
 */
export function findCycles(nodes: readonly string[], edges: (node: string) => readonly string[]): string[][] {
  const order = new Map(nodes.map((n, i) => [n, i]));
  // The walk runs on node numbers (`order`'s), in typed arrays: no string hashing per step, little garbage.
  const names: string[] = [];
  for (const [name, id] of order) names[id] = name;
  const index = new Int32Array(nodes.length).fill(-1);
  const low = new Int32Array(nodes.length);
  const onStack = new Uint8Array(nodes.length);
  const stack: number[] = [];
  const components: string[][] = [];
  let counter = 0;

  // Each frame keeps its node's targets: computed once per node, not once per step of the walk.
  const targetsOf = (node: number): number[] => {
    const targets: number[] = [];
    for (const target of edges(names[node] as string)) {
      const id = order.get(target);
      if (id !== undefined) targets.push(id);
    }
    return targets;
  };
  const visit = (node: number): void => {
    index[node] = counter;
    low[node] = counter++;
    stack.push(node);
    onStack[node] = 1;
  };

  // Iterative Tarjan: deep dependency chains must not overflow the call stack.
  for (const rootName of nodes) {
    const root = order.get(rootName) as number;
    if (index[root] !== -1) continue;
    const work: Array<{ node: number; next: number; targets: readonly number[] }> = [{ node: root, next: 0, targets: targetsOf(root) }];
    visit(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: number; next: number; targets: readonly number[] };
      const targets = frame.targets;
      if (frame.next < targets.length) {
        const target = targets[frame.next++] as number;
        if (index[target] === -1) {
          visit(target);
          work.push({ node: target, next: 0, targets: targetsOf(target) });
        } else if (onStack[target] === 1) {
          low[frame.node] = Math.min(low[frame.node] as number, index[target] as number);
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low[parent.node] = Math.min(low[parent.node] as number, low[frame.node] as number);
      if (low[frame.node] === index[frame.node]) {
        const component: string[] = [];
        let member: number;
        do {
          member = stack.pop() as number;
          onStack[member] = 0;
          component.push(names[member] as string);
        } while (member !== frame.node);
        const selfLoop = component.length === 1 && targets.includes(frame.node);
        if (component.length > 1 || selfLoop) components.push(component);
      }
    }
  }
  return components
    .map((component) => cyclePath(component, order, edges))
    .sort((a, b) => (order.get(a[0] as string) as number) - (order.get(b[0] as string) as number));
}

/** A concrete cycle inside one component: breadth-first from its earliest node back to itself. */
function cyclePath(component: string[], order: Map<string, number>, edges: (node: string) => readonly string[]): string[] {
  const members = new Set(component);
  const start = [...component].sort((a, b) => (order.get(a) as number) - (order.get(b) as number))[0] as string;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const target of edges(node)) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}
