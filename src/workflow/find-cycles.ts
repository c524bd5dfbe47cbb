/**
 * Every dependency cycle of a graph, one per strongly connected component, each as a path that
 * returns to its start (`["a", "b", "a"]`), starting at the component's earliest node in `nodes`
 * order. Deterministic for a given node order and edge order.
 */
export function findCycles(nodes: readonly string[], edges: (node: string) => readonly string[]): string[][] {
  const order = new Map(nodes.map((n, i) => [n, i]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;

  // Each frame keeps its node's targets: computed once per node, not once per step of the walk.
  const targetsOf = (node: string): readonly string[] => edges(node).filter((t) => order.has(t));

  // Iterative Tarjan: deep dependency chains must not overflow the call stack.
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; next: number; targets: readonly string[] }> = [{ node: root, next: 0, targets: targetsOf(root) }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: number; targets: readonly string[] };
      const targets = frame.targets;
      if (frame.next < targets.length) {
        const target = targets[frame.next++] as string;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0, targets: targetsOf(target) });
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(target) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = component.length === 1 && edges(frame.node).includes(frame.node);
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
